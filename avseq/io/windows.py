"""Decoding in windows: ``iter_sampled`` (one decode for several samplings) and ``iter_video``.

One pass over the file in bounded memory: a window holds ``window`` seconds of frames, or
fewer when its frames would pass ``max_bytes``. Which frames are decoded, and how, is
:mod:`avseq.io.video`'s (the same rule as ``decode_video``). ``iter_sampled_arrays`` is the
same decode with numpy results, for processes that never import torch (:mod:`avseq.io.raw`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np

from avseq.io import video
from avseq.io.convert import BufferPool, FrameStack, FrameWriter, SizeArg, output_shape
from avseq.io.hwaccel import ON_CPU, DecodedOn, DecodePlace
from avseq.io.limits import DEFAULT_LIMITS, MediaLimits
from avseq.io.raw import RawFrames
from avseq.io.sampling import EPS, Sampling, check_sampling
from avseq.io.source import PlanMismatch
from avseq.io.truncation import OnTruncated
from avseq.io.video import Mode, Triple, VideoRequest

if TYPE_CHECKING:
    import torch

    from avseq.types import Frames

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SampledWindow:
    """One window of :func:`iter_sampled`: [start, end) seconds, its frames, and per sampling the
    (T_i,) int64 indices into ``frames`` of the frames that sampling asked for; ``decoded_on``:
    where the decode ran up to the end of this window (NVDEC, or the CPU and why)."""

    start: float
    end: float
    frames: Frames
    picks: tuple[torch.Tensor, ...]
    decoded_on: DecodedOn = ON_CPU


@dataclass(frozen=True)
class SampledArrays:
    """A :class:`SampledWindow` as arrays: frames as :class:`~avseq.io.raw.RawFrames`, picks int64."""

    start: float
    end: float
    frames: RawFrames
    picks: tuple[np.ndarray, ...]
    decoded_on: DecodedOn = ON_CPU

    def load(self) -> SampledWindow:
        import torch

        picks = tuple(torch.from_numpy(p) for p in self.picks)
        return SampledWindow(self.start, self.end, self.frames.load(), picks, self.decoded_on)


class _Window:
    """Frames of the window being filled, and which sampling asked for each."""

    def __init__(self, req: VideoRequest, capacity: int, start: float, pool: BufferPool, writer: FrameWriter,
                 max_bytes: int | None) -> None:  # fmt: skip
        self.stack, self.start = FrameStack(req.size, capacity, pool, writer), start
        self.picks: list[list[int]] = [[] for _ in req.samplings]
        self.frame_bytes, self.max_bytes = 0, max_bytes

    def add(self, frame: av.VideoFrame, streams: set[int] | None, size: SizeArg) -> None:
        for i in streams or ():
            self.picks[i].append(len(self.stack))
        if not self.frame_bytes:
            self.frame_bytes = 3 * math.prod(output_shape(frame, size))
            if self.max_bytes:  # the buffer travels whole with the window's frames: no bigger than its budget
                self.stack.capacity = min(self.stack.capacity, self.max_bytes // self.frame_bytes + 1)
        self.stack.add(frame, video.frame_seconds(frame))

    def close(self, end: float, decoded_on: DecodedOn) -> SampledArrays:
        picks = tuple(np.array(p, dtype=np.int64) for p in self.picks)
        return SampledArrays(self.start, max(end, self.start + 1e-3), self.stack.raw(), picks, decoded_on)


def _windows(pairs: Iterator[Triple], req: VideoRequest, capacity: int, end: float,
             max_bytes: int | None, place: DecodePlace) -> Iterator[SampledArrays]:  # fmt: skip
    """Group pairs into windows of ``req.window`` seconds (one window without it), cutting a window
    early once its frames would pass ``max_bytes``. ``end``: seconds where the last window ends;
    ``place``: where the decode runs (each window says where its frames were decoded).
    The windows share one :class:`~avseq.io.convert.FrameWriter` and a
    :class:`~avseq.io.convert.BufferPool`: a window's buffer is filled again once the caller has
    let go of its frames, so memory stays warm and bounded."""

    def bound(k: int) -> float:  # where window k starts
        return req.start + k * req.window if req.window else req.start

    pool = BufferPool()
    current, index, last_t = None, 0, -math.inf
    with video.frame_writer(req) as writer:
        for t, frame, streams in pairs:
            k = math.floor((t - req.start) / req.window + EPS) if req.window else 0
            if current is not None and k != index:
                yield current.close(bound(index + 1), place.result)
                current = None
            elif (
                current is not None
                and max_bytes
                and (len(current.stack) + 1) * current.frame_bytes > max_bytes
            ):
                yield current.close(t, place.result)
                current = _Window(req, capacity, t, pool, writer, max_bytes)
            if current is None:
                current = _Window(req, capacity, bound(k), pool, writer, max_bytes)
            index, last_t = k, t
            current.add(frame, streams, req.size)
        if current is not None:
            stop = max(end, last_t)
            yield current.close(min(bound(index + 1), stop) if req.window else stop, place.result)


def iter_sampled(
    path: str | Path, samplings: list[Sampling] | tuple[Sampling, ...], **options
) -> Iterator[SampledWindow]:
    """Decode once for several samplings: windows of every frame any of them asks for.

    Each :class:`SampledWindow` holds the union of the samplings' frames (uint8 (T, 3, H, W),
    in time order) and, per sampling, the indices of exactly the frames it would get alone
    (:func:`decode_video` with that fps or num_frames). No sampling: every frame.
    Options: those of :func:`iter_sampled_arrays`.
    """
    for w in iter_sampled_arrays(path, samplings, **options):
        yield w.load()


def iter_sampled_arrays(
    path: str | Path,
    samplings: list[Sampling] | tuple[Sampling, ...],
    *,
    window: float | None = None,
    max_bytes: int | None = None,
    start: float = 0.0,
    end: float | None = None,
    size: SizeArg = None,
    stream: int = 0,
    mode: Mode = "fast",
    threads: int = 0,
    hwaccel: str | None = None,
    on_truncated: OnTruncated = "error",
    limits: MediaLimits | None = None,
) -> Iterator[SampledArrays]:
    """:func:`iter_sampled` with numpy results (:class:`SampledArrays`), torch never imported.

    window: seconds per window (None: the whole file is one window); max_bytes: cut a window
    early once its frames would pass this many bytes, so memory never follows the input's
    length or resolution. The other arguments are those of :func:`decode_video`; each window's
    ``decoded_on`` says where its frames were decoded (with ``hwaccel``: NVDEC, or the CPU and why).
    """
    req = VideoRequest(start=start, end=end, size=size, stream=stream, mode=mode, threads=threads,
                       hwaccel=hwaccel, on_truncated=on_truncated, limits=limits or DEFAULT_LIMITS,
                       window=window, samplings=tuple(samplings))  # fmt: skip
    path, info, capacity = video.prepare(path, req)
    stop, last_t = float(end if end is not None else info.duration or 0.0), -math.inf
    place = DecodePlace(path, req.hwaccel)
    try:
        frames = video.sampled_frames(path, req, info, place=place)
        for w in _windows(frames, req, capacity, stop, max_bytes, place):
            last_t = w.end - EPS  # times within EPS count as one: resume from the window's end
            yield w
    except PlanMismatch as why:
        log.warning("%s: fast decode plan did not hold (%s); continuing with every frame", path, why)
        exact = video.sampled_frames(path, replace(req, mode="exact"), info, after=last_t, place=place)
        yield from _windows(exact, req, capacity, stop, max_bytes, place)


def iter_video(
    path: str | Path,
    *,
    window: float,
    fps: float | None = None,
    num_frames: int | None = None,
    start: float = 0.0,
    end: float | None = None,
    size: SizeArg = None,
    stream: int = 0,
    mode: Mode = "fast",
    threads: int = 0,
    hwaccel: str | None = None,
    on_truncated: OnTruncated = "error",
    limits: MediaLimits | None = None,
) -> Iterator[Frames]:
    """Yield ``Frames`` for consecutive windows of ``window`` seconds from ``start``.

    One decode pass in constant memory (one window of frames at a time), so it
    suits long files. Sampling arguments are those of :func:`decode_video`, with
    ``num_frames`` counted per window. A window in which no frame is sampled is
    skipped; each Frames' pts tells where it lies. ``limits.max_frames`` caps one window.
    """
    check_sampling(fps, num_frames)
    samplings = [Sampling(fps, num_frames)] if fps is not None or num_frames is not None else []
    for w in iter_sampled(path, samplings, window=window, start=start, end=end, size=size, stream=stream,
                          mode=mode, threads=threads, hwaccel=hwaccel, on_truncated=on_truncated,
                          limits=limits):  # fmt: skip
        yield w.frames
