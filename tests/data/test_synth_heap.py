"""The filled heap that makes the synthetic world's encodes byte-identical (glibc only)."""

import ctypes

import pytest

from avseq.data.synth import heap

LIBC = ctypes.CDLL(None)
LIBC.malloc.restype = ctypes.c_void_p
LIBC.malloc.argtypes = [ctypes.c_size_t]
LIBC.free.argtypes = [ctypes.c_void_p]


def test_the_setting_is_on_from_the_first_block_in_to_the_last_out(monkeypatch):
    calls = []
    monkeypatch.setattr(heap, "_MALLOPT", lambda option, value: calls.append((option, value)))
    with heap.filled_heap():
        with heap.filled_heap():  # nested (or another thread's): counted, not switched
            assert calls == [(heap.M_PERTURB, heap.FILL_BYTE)]
        assert calls == [(heap.M_PERTURB, heap.FILL_BYTE)]
    assert calls == [(heap.M_PERTURB, heap.FILL_BYTE), (heap.M_PERTURB, 0)] and heap._users == 0
    with pytest.raises(RuntimeError), heap.filled_heap():
        raise RuntimeError("an encode that fails")
    assert calls[-1] == (heap.M_PERTURB, 0) and heap._users == 0


@pytest.mark.skipif(heap._MALLOPT is None, reason="needs glibc's mallopt")
def test_glibc_hands_out_filled_memory_inside_the_block():
    size = 4096  # above glibc's per-thread cache (small chunks, which it never fills), below mmap
    with heap.filled_heap():
        p = LIBC.malloc(size)
        try:
            assert ctypes.string_at(p, size) == bytes([heap.FILL_BYTE ^ 0xFF]) * size
        finally:
            LIBC.free(p)
