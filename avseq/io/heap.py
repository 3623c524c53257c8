"""glibc heap settings: a filled heap for byte-identical encodes, large blocks given back when freed.

The H.264 encoder stack reads some memory it never wrote, and what it reads steers its
decisions. So the same frames, encoded with one thread, came out as different bytes
depending on what the process had freed before (in fresh worker processes, and between the
synthetic generator's workers and an in-process run). With glibc's ``M_PERTURB`` set,
``malloc`` fills what it hands out (and what is freed) with one byte, so those reads see the
same values every time (the README's figures table has the counts). Chunks small enough
for glibc's per-thread cache are not filled; the encoder's frame buffers are larger. Costs
a ``memset`` per allocation while it is on.

Only glibc has the setting; elsewhere :func:`filled_heap` changes nothing.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

M_PERTURB = -6  # glibc's mallopt parameter
FILL_BYTE = 0xA5

_lock = threading.Lock()
_users = 0


def _mallopt() -> Callable[[int, int], int] | None:
    try:
        return ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows)
        return None


_MALLOPT = _mallopt()


@contextmanager
def filled_heap() -> Iterator[None]:
    """Within the block (in any thread), glibc ``malloc`` hands out memory filled with one byte.

    Nested and concurrent uses are counted: the setting is cleared when the last one ends.
    """
    global _users
    if _MALLOPT is None:
        yield
        return
    with _lock:
        if _users == 0:
            _MALLOPT(M_PERTURB, FILL_BYTE)
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                _MALLOPT(M_PERTURB, 0)


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters


def give_back_large_blocks(threshold: int = 1 << 20) -> None:
    """From now on, glibc serves blocks of ``threshold`` bytes or more with their own mapping and
    trims the heap's free top above it, so freed frame batches go back to the system.

    glibc otherwise raises its mapping threshold after each large free, and the next batches
    are carved out of a heap that only grows, so a long run's peak kept creeping up.
    """
    if _MALLOPT is not None:
        _MALLOPT(M_MMAP_THRESHOLD, threshold)
        _MALLOPT(M_TRIM_THRESHOLD, threshold)
