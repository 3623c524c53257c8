"""Video decoding: which frames a request wants, and ``decode_video`` (one clip -> Frames).

Frames are chosen by timestamp (see :mod:`avseq.io.sampling`), so variable
frame rate files sample correctly. ``mode="fast"`` scans the packets first and
decodes only what the chosen frames need; ``mode="exact"`` decodes every frame.
Both pick the same frames; fast falls back to exact when the file's packets do
not match its own plan. Windows over long files and several samplings at once are
:mod:`avseq.io.windows` (``iter_sampled``, ``iter_video``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import av
import numpy as np

from avseq.errors import CorruptMediaError, NoStreamError, UnsupportedCodecError
from avseq.io.convert import FrameStack, FrameWriter, SizeArg, validate_size
from avseq.io.hwaccel import DecodePlace, validate_hwaccel
from avseq.io.limits import DEFAULT_LIMITS, MediaLimits, check_value
from avseq.io.probe import UNKNOWN_CODEC, MediaInfo, StreamInfo, probe
from avseq.io.sampling import EPS, Sampling, Selector, TaggedTimes, check_sampling, choose_indices
from avseq.io.scan import scan_stream
from avseq.io.source import (
    PlanMismatch,
    exact_frames,
    make_plan,
    open_video,
    planned_frames,
    supports_planning,
    wrap_errors,
)
from avseq.io.truncation import OnTruncated, check_truncation, validate_on_truncated

if TYPE_CHECKING:
    from avseq.types import Frames

log = logging.getLogger(__name__)

Mode = Literal["fast", "exact"]
MODES = ("fast", "exact")


@dataclass(frozen=True)
class VideoRequest:
    """A validated decode request (seconds; see :func:`decode_video` for each field)."""

    fps: float | None = None
    num_frames: int | None = None
    start: float = 0.0
    end: float | None = None
    size: SizeArg = None
    stream: int = 0
    mode: Mode = "fast"
    threads: int = 0
    hwaccel: str | None = None
    on_truncated: OnTruncated = "error"
    limits: MediaLimits = DEFAULT_LIMITS
    window: float | None = None
    samplings: tuple[Sampling, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"Invalid mode {self.mode!r}. Supported: 'fast', 'exact'")
        check_sampling(self.fps, self.num_frames)
        if not (math.isfinite(self.start) and self.start >= 0):
            raise ValueError(f"Invalid start {self.start!r}: must be seconds >= 0")
        if self.end is not None and not self.end > self.start:
            raise ValueError(f"Invalid end {self.end!r}: must be > start ({self.start})")
        if self.window is not None and not (math.isfinite(self.window) and self.window > 0):
            raise ValueError(f"Invalid window {self.window!r}: must be seconds > 0")
        if not isinstance(self.threads, int) or self.threads < 0:
            raise ValueError(f"Invalid threads {self.threads!r}: must be an int >= 0 (0 = automatic)")
        if not isinstance(self.stream, int) or self.stream < 0:
            raise ValueError(f"Invalid stream {self.stream!r}: must be an int >= 0")
        validate_size(self.size)
        validate_hwaccel(self.hwaccel)
        validate_on_truncated(self.on_truncated)
        object.__setattr__(self, "size", validate_size(self.size))
        if not self.samplings and (self.fps is not None or self.num_frames is not None):
            object.__setattr__(self, "samplings", (Sampling(self.fps, self.num_frames),))


def _video_stream(path: Path, info: MediaInfo, stream: int) -> StreamInfo:
    videos = info.video
    if not videos:
        raise NoStreamError(path, "no video stream")
    if stream >= len(videos):
        raise NoStreamError(path, f"no video stream {stream} (the file has {len(videos)} video streams)")
    if videos[stream].codec == UNKNOWN_CODEC:
        raise UnsupportedCodecError(
            path, f"video stream {stream} has no usable codec (unknown or damaged codec parameters)"
        )
    return videos[stream]


def _declared_end(info: MediaInfo, vinfo: StreamInfo) -> float | None:
    duration = vinfo.duration if vinfo.duration is not None else info.duration
    return None if duration is None else (vinfo.start_time or 0.0) + duration


def _expected_frames(req: VideoRequest, vinfo: StreamInfo, span: float) -> float:
    if not req.samplings:
        return math.ceil(span * (vinfo.avg_fps or vinfo.real_fps or 0.0))
    return sum(s.num_frames if s.fps is None else math.ceil(span * s.fps) for s in req.samplings)


def _expected_count(req: VideoRequest, info: MediaInfo, vinfo: StreamInfo) -> int:
    """Frames one returned Frames record should hold (per window for iter_video), from the probe."""
    end = req.end if req.end is not None else _declared_end(info, vinfo) or 0.0
    span = min(max(end - req.start, 0.0), req.window or math.inf)
    return int(_expected_frames(req, vinfo, span))


def _check_limits(path: Path, req: VideoRequest, info: MediaInfo, vinfo: StreamInfo) -> int:
    """Check ``req.limits`` against the probe; returns the expected frame count."""
    lim = req.limits
    check_value(path, lim, "max_duration", info.duration, " s")
    check_value(path, lim, "max_pixels", (vinfo.width or 0) * (vinfo.height or 0))
    count = _expected_count(req, info, vinfo)
    check_value(path, lim, "max_frames", count)
    return count


def _sample_times(
    req: VideoRequest, declared_end: float | None, stream_end: float | None = None
) -> TaggedTimes | None:
    """Sample times in seconds (the union of ``req.samplings``), or None for every frame.

    fps sampling runs to ``req.end`` (or the stream's end, known in fast mode);
    uniform sampling spreads over ``[start, req.end or declared end)``.
    """
    if not req.samplings:
        return None
    fps_end = min((x for x in (req.end, stream_end) if x is not None), default=None)
    end = next((x for x in (req.end, declared_end, stream_end) if x is not None), None)
    if end is None and any(s.fps is None for s in req.samplings):
        raise CorruptMediaError(None, "cannot sample uniformly: the duration is unknown")
    streams = [s.times(req.start, fps_end if s.fps is not None else end, req.window) for s in req.samplings]
    return TaggedTimes(streams)


def frame_seconds(frame: av.VideoFrame) -> float | None:
    return None if frame.pts is None else float(frame.pts * frame.time_base)


Triple = tuple[float, av.VideoFrame, set[int] | None]


def _tagged(pairs: Iterator[tuple[float, av.VideoFrame]], times: TaggedTimes | None) -> Iterator[Triple]:
    """(sample time, frame, indices of the samplings that asked for it; None for every frame)."""
    for t, frame in pairs:
        yield t, frame, None if times is None else times.tags(t)


def _exact_pairs(path, container, vs, req, declared_end) -> Iterator[Triple]:
    times = _sample_times(req, declared_end)
    yield from _tagged(_exact_selected(path, container, vs, req, declared_end, times), times)


def _exact_selected(path, container, vs, req, declared_end, times) -> Iterator[tuple[float, av.VideoFrame]]:
    default_duration = 1.0 / float(vs.average_rate) if vs.average_rate else 0.0
    selector = Selector(times, req.start, req.end)
    last_end, reached_end = None, False
    for frame in wrap_errors(path, exact_frames(container, vs)):
        t = frame_seconds(frame)
        if t is None:
            continue
        yield from selector.feed(t, frame)
        last_end = t + (float(frame.duration * frame.time_base) if frame.duration else default_duration)
        if selector.done or (req.end is not None and t >= req.end - EPS):
            reached_end = True
            break
    if not reached_end:
        check_truncation(path, "video", last_end, _target_end(req, declared_end), start=req.start,
                         on_truncated=req.on_truncated)  # fmt: skip
    yield from selector.finish(last_end)


def _target_end(req: VideoRequest, declared_end: float | None) -> float | None:
    if declared_end is None:
        return req.end
    return declared_end if req.end is None else min(req.end, declared_end)


def _fast_pairs(path, container, vs, req, declared_end) -> Iterator[Triple]:
    table = scan_stream(container, vs)
    if not table.has_pts:
        raise PlanMismatch("packets without timestamps")
    stream_end = table.end_seconds()
    check_truncation(path, "video", stream_end, _target_end(req, declared_end), start=req.start,
                     on_truncated=req.on_truncated)  # fmt: skip
    end = stream_end if req.end is None else min(req.end, stream_end)
    order = np.argsort(table.pts, kind="stable")
    pts = table.pts[order].astype(np.float64) * float(table.time_base)
    times = _sample_times(req, declared_end, stream_end)
    if times is None:
        times_list = None
        chosen = np.flatnonzero((pts >= req.start - EPS) & (pts < end - EPS))
    else:
        times_list = list(times)
        chosen = choose_indices(pts, times_list)
    if len(chosen) == 0:
        return
    plan = make_plan(table, np.unique(order[chosen]))
    selector = Selector(iter(times_list) if times_list is not None else None, req.start, req.end)
    for frame in wrap_errors(path, planned_frames(container, vs, plan)):
        t = frame_seconds(frame)
        if t is not None:
            yield from _tagged(selector.feed(t, frame), times)
    yield from _tagged(selector.finish(stream_end), times)


def _plan_pays(req: VideoRequest, container) -> bool:
    """True when fast mode can skip work: not when every frame from the start is wanted."""
    every_frame = not req.samplings and req.start == 0 and req.end is None
    return req.mode == "fast" and not every_frame and supports_planning(container)


def sampled_frames(
    path: Path,
    req: VideoRequest,
    info: MediaInfo,
    *,
    after: float = -math.inf,
    place: DecodePlace | None = None,
) -> Iterator[Triple]:
    """(sample time, frame, samplings) for ``req`` with time > ``after``; PlanMismatch escapes.

    place: records where the frames are decoded (``req.hwaccel``'s device or the CPU, and why);
    pass one to read it afterwards.
    """
    vinfo = _video_stream(path, info, req.stream)
    declared_end = _declared_end(info, vinfo)
    place = place if place is not None else DecodePlace(path, req.hwaccel)
    with open_video(path, req.stream, threads=req.threads, place=place) as (container, vs):
        pairs = _fast_pairs if _plan_pays(req, container) else _exact_pairs
        for triple in pairs(path, container, vs, req, declared_end):
            place.decoded(vs.codec_context)
            if triple[0] > after:
                yield triple


def prepare(path, req: VideoRequest) -> tuple[Path, MediaInfo, int]:
    """Probe and check limits; returns (path, info, expected frames per record)."""
    path = Path(path)
    info = probe(path)
    count = _check_limits(path, req, info, _video_stream(path, info, req.stream))
    return path, info, count + 1


def frame_writer(req: VideoRequest) -> FrameWriter:
    """The decode's frame writer: converting on a worker thread unless ``threads=1`` asks for one."""
    return FrameWriter(req.size, background=req.threads != 1)


def _collect(pairs: Iterator[Triple], req: VideoRequest, capacity: int) -> Frames:
    with frame_writer(req) as writer:
        stack = FrameStack(req.size, capacity, writer=writer)
        for _, frame, _ in pairs:
            stack.add(frame, frame_seconds(frame))
        return stack.frames()


def decode_video(
    path: str | Path,
    *,
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
) -> Frames:
    """Decode frames of video stream ``stream`` of ``path`` as ``uint8 (T, 3, H, W)`` RGB.

    Frames.pts (T,) holds each returned frame's presentation time in seconds.
    fps: sample by timestamp at ``t_k = start + k / fps`` (the frame shown at each
    t_k; a frame repeats when fps exceeds the file's rate). num_frames: the frame
    shown at the centre of each of N equal segments of ``[start, end)``. Neither:
    every frame with ``start <= pts < end``. end defaults to the end of the stream.
    size: (H, W), or an int for the short side (aspect kept); resized on decode.
    Rotation metadata is applied. mode: "fast" decodes only what the chosen frames
    need (same choice as "exact", which decodes everything). threads: decoder
    threads (0 = automatic); unless it is 1, one more thread converts frames to RGB
    while the decoder works (same pixels: swscale runs one thread). hwaccel: None
    "cuda" or "cuda:N" (NVDEC; a device, codec or stream NVDEC cannot take falls back to the CPU
    with a CpuFallbackWarning that says why; :func:`~avseq.io.iter_sampled_arrays` reports where
    each window was decoded). on_truncated: "error" raises
    TruncatedMediaError when the data ends noticeably before the header says,
    "warn" returns what decodes. limits: caps checked before decoding
    (ResourceLimitError).
    """
    req = VideoRequest(fps, num_frames, start, end, size, stream, mode, threads, hwaccel, on_truncated,
                       limits or DEFAULT_LIMITS)  # fmt: skip
    path, info, capacity = prepare(path, req)
    place = DecodePlace(path, req.hwaccel)
    try:
        return _collect(sampled_frames(path, req, info, place=place), req, capacity)
    except PlanMismatch as why:
        log.info("%s: fast decode plan did not hold (%s); decoding every frame", path, why)
        return _collect(sampled_frames(path, replace(req, mode="exact"), info, place=place), req, capacity)
