"""glibc heap settings: large blocks given back to the system when freed.

Only glibc has these settings (``mallopt``); elsewhere they change nothing.
:func:`glibc_mallopt` is the one lookup of that function (the synthetic world's filled heap,
``avseq.data.synth.heap``, sets its own parameter through it).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable


def glibc_mallopt() -> Callable[[int, int], int] | None:
    """glibc's ``mallopt(parameter, value)``, or None where the C library is not glibc."""
    try:
        return ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows)
        return None


_MALLOPT = glibc_mallopt()

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
