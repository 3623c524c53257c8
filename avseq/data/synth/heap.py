"""A filled heap, so that the synthetic world's clips encode to the same bytes every time.

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

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from avseq.io.heap import glibc_mallopt

M_PERTURB = -6  # glibc's mallopt parameter
FILL_BYTE = 0xA5

_lock = threading.Lock()
_users = 0
_MALLOPT = glibc_mallopt()


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
