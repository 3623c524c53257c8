"""Which frame to show at which time: pure functions shared by every decode mode.

The rule: the frame shown at time ``t`` is the last frame whose presentation
time is ``<= t`` (the first frame for ``t`` before it). Sampling at ``fps``
asks for ``t_k = start + k / fps``; ``num_frames`` asks for the centres of N
equal segments of ``[start, end)``. Times are seconds.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")

EPS = 1e-6  # seconds; a frame that starts within EPS after t counts as shown at t (float rounding)
RATE_RTOL = 1e-9  # relative; two frame rates this close are the same rate (float rounding)


def check_sampling(fps: float | None, num_frames: int | None, *, required: bool = False) -> None:
    """The one rule for a sampling's keys: ``fps`` (a finite number > 0) or ``num_frames`` (an
    int >= 1), never both; one of them when ``required`` (otherwise neither means every frame).

    Raises ValueError naming the values.
    """
    if fps is not None and num_frames is not None:
        raise ValueError(f"give fps or num_frames, not both (got fps={fps}, num_frames={num_frames})")
    if required and fps is None and num_frames is None:
        raise ValueError("give fps or num_frames (got neither)")
    if fps is not None and not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"Invalid fps {fps!r}: must be a finite number > 0")
    if num_frames is not None and (not isinstance(num_frames, int) or num_frames < 1):
        raise ValueError(f"Invalid num_frames {num_frames!r}: must be an int >= 1")


def same_rate(a: float, b: float) -> bool:
    """True when frame rates ``a`` and ``b`` (frames per second) differ by float rounding at most."""
    return math.isclose(a, b, rel_tol=RATE_RTOL)


def fps_times(start: float, end: float | None, fps: float) -> Iterator[float]:
    """``start + k / fps`` for k = 0, 1, ... while below ``end`` (forever when end is None)."""
    for k in itertools.count():
        t = start + k / fps
        if end is not None and t >= end - EPS:
            return
        yield t


def uniform_times(start: float, end: float, num_frames: int) -> list[float]:
    """Centres of ``num_frames`` equal segments of ``[start, end)``."""
    step = (end - start) / num_frames
    return [start + (k + 0.5) * step for k in range(num_frames)]


def window_uniform_times(start: float, end: float, window: float, num_frames: int) -> Iterator[float]:
    """:func:`uniform_times` within each consecutive window of ``window`` seconds."""
    for j in range(math.ceil((end - start) / window - EPS)):
        w0 = start + j * window
        yield from uniform_times(w0, min(w0 + window, end), num_frames)


def choose_indices(pts: np.ndarray, times: Iterable[float]) -> np.ndarray:
    """Index into ascending ``pts`` (seconds) of the frame shown at each time in ``times``."""
    t = np.fromiter(times, dtype=np.float64)
    idx = np.searchsorted(pts, t + EPS, side="right") - 1
    return np.maximum(idx, 0)


class Selector(Generic[T]):
    """Streaming form of the rule: feed frames in presentation order, get ``(t, frame)`` pairs.

    times: ascending sample times, or None for every frame in ``[start, end)``.
    Memory is one frame, so it suits arbitrarily long inputs.
    """

    def __init__(self, times: Iterator[float] | None, start: float = 0.0, end: float | None = None):
        self._times = times
        self._start, self._end = start, end
        self._t = next(times, None) if times is not None else None
        self._prev: tuple[float, T] | None = None

    @property
    def done(self) -> bool:
        """True once no sample time is left (never for the every-frame mode)."""
        return self._times is not None and self._t is None

    def feed(self, pts: float, frame: T) -> Iterator[tuple[float, T]]:
        """Pairs decided by the arrival of ``frame`` (shown from ``pts`` seconds)."""
        if self._prev is not None and pts <= self._prev[0]:
            return  # out-of-order or duplicate timestamp: keep the first
        if self._times is None:
            if pts >= self._start - EPS and (self._end is None or pts < self._end - EPS):
                yield pts, frame
            self._prev = (pts, frame)
            return
        while self._t is not None and self._t + EPS < pts:
            if self._end is not None and self._t >= self._end - EPS:
                self._t = None
                break
            yield self._t, (self._prev or (pts, frame))[1]
            self._t = next(self._times, None)
        self._prev = (pts, frame)

    def finish(self, stream_end: float | None) -> Iterator[tuple[float, T]]:
        """Pairs for sample times after the last frame, up to ``stream_end`` (seconds)."""
        if self._times is None or self._prev is None:
            return
        limits = [x for x in (stream_end, self._end) if x is not None]
        if not limits:
            return
        while self._t is not None and self._t < min(limits) - EPS:
            yield self._t, self._prev[1]
            self._t = next(self._times, None)


@dataclass(frozen=True)
class Sampling:
    """One consumer's sampling: ``fps`` or ``num_frames`` (uniform, per window when windowed)."""

    fps: float | None = None
    num_frames: int | None = None

    def __post_init__(self) -> None:
        check_sampling(self.fps, self.num_frames, required=True)

    def times(self, start: float, end: float | None, window: float | None) -> Iterator[float]:
        """Ascending sample times in ``[start, end)``; ``end`` is needed for ``num_frames``."""
        if self.fps is not None:
            return fps_times(start, end, self.fps)
        if end is None:
            raise ValueError("uniform sampling needs the end of the span")
        if window is not None:
            return window_uniform_times(start, end, window, self.num_frames)
        return iter(uniform_times(start, end, self.num_frames))


class TaggedTimes:
    """The union of several ascending time streams, as one ascending stream of seconds.

    Times within :data:`EPS` of each other count as one. :meth:`tags` tells, for a time this
    iterator yielded, which streams (by index) asked for it; each time's entry is dropped once read.
    """

    def __init__(self, streams: list[Iterator[float]]) -> None:
        self._merged = heapq.merge(*(zip(stream, itertools.repeat(i)) for i, stream in enumerate(streams)))
        self._next = next(self._merged, None)
        self._tags: dict[float, set[int]] = {}
        self._single = len(streams) == 1  # then every time is stream 0's: nothing to record

    def __iter__(self) -> TaggedTimes:
        return self

    def __next__(self) -> float:
        if self._next is None:
            raise StopIteration
        t, first = self._next
        streams = {first}
        self._next = next(self._merged, None)
        while self._next is not None and self._next[0] <= t + EPS:
            streams.add(self._next[1])
            self._next = next(self._merged, None)
        if not self._single:
            self._tags[t] = streams
        return t

    def tags(self, t: float) -> set[int]:
        """Indices of the streams that asked for ``t`` (a time this iterator yielded)."""
        return {0} if self._single else self._tags.pop(t, set())
