"""The filled heap that makes the synthetic world's encodes byte-identical (glibc only)."""

import ctypes

import pytest

from avseq.io import heap

pytestmark = pytest.mark.skipif(heap._MALLOPT is None, reason="needs glibc's mallopt")

LIBC = ctypes.CDLL(None)
LIBC.malloc.restype = ctypes.c_void_p
LIBC.malloc.argtypes = [ctypes.c_size_t]
LIBC.free.argtypes = [ctypes.c_void_p]


def reused_chunk_bytes(size: int = 4096) -> bytes:
    """Write 0x11 into a chunk, free it and take it back: what malloc then hands out.

    4 KiB: above glibc's per-thread cache (small chunks, which it never fills) and below mmap.
    """
    p = LIBC.malloc(size)
    ctypes.memset(p, 0x11, size)
    LIBC.free(p)
    q = LIBC.malloc(size)
    try:
        assert q == p  # glibc hands a just-freed chunk of the same size straight back
        return ctypes.string_at(q + 32, size - 32)  # past the allocator's own pointers
    finally:
        LIBC.free(q)


def test_new_allocations_are_filled_inside_and_left_alone_after():
    assert reused_chunk_bytes() == b"\x11" * 4064  # off: old contents come back
    with heap.filled_heap():
        with heap.filled_heap():  # nested (or another thread): counted
            assert reused_chunk_bytes() == bytes([heap.FILL_BYTE ^ 0xFF]) * 4064
        assert reused_chunk_bytes() == bytes([heap.FILL_BYTE ^ 0xFF]) * 4064  # the outer one still holds
    assert heap._users == 0
    assert reused_chunk_bytes() == b"\x11" * 4064
