"""``probe(path) -> MediaInfo``: what a media file holds, in seconds, without decoding it.

Only the first frame of each video stream is decoded, to read its rotation
(display matrix), so ``width``/``height`` are the displayed size. Durations come
from the header; when the header has none (some WebM files) the packets are
scanned. ``scan=True`` always scans packets: exact frame counts and a measured
variable-frame-rate flag.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av

from avseq.io.opener import open_media

if TYPE_CHECKING:  # avseq.io.scan (and numpy) is imported only when packets are scanned
    from avseq.io.scan import PacketTable

UNKNOWN_CODEC = "unknown"  # StreamInfo.codec of a stream no decoder can be set up for
_VFR_TOLERANCE = 0.01  # relative gap between average and real frame rate that counts as VFR


@dataclass(frozen=True)
class StreamInfo:
    """One stream. Times in seconds; width/height as displayed (after rotation)."""

    index: int
    type: str
    codec: str
    duration: float | None = None
    start_time: float | None = None
    frames: int | None = None
    width: int | None = None
    height: int | None = None
    coded_width: int | None = None
    coded_height: int | None = None
    rotation: int = 0
    pix_fmt: str | None = None
    avg_fps: float | None = None
    real_fps: float | None = None
    is_vfr: bool = False
    sample_rate: int | None = None
    channels: int | None = None
    samples: int | None = None
    language: str | None = None
    bit_rate: int | None = None


@dataclass(frozen=True)
class MediaInfo:
    """A probed file: container facts plus its streams (video, audio, subtitle, data).

    ``truncated`` is True when the container's index points past the end of the
    file (the data ends before the header says); None when it cannot tell.
    """

    path: str
    container: str
    duration: float | None
    size_bytes: int
    streams: list[StreamInfo] = field(default_factory=list)
    start_time: float | None = None
    bit_rate: int | None = None
    truncated: bool | None = None
    duration_source: str = "header"

    @property
    def video(self) -> list[StreamInfo]:
        return [s for s in self.streams if s.type == "video"]

    @property
    def audio(self) -> list[StreamInfo]:
        return [s for s in self.streams if s.type == "audio"]

    @property
    def subtitles(self) -> list[StreamInfo]:
        return [s for s in self.streams if s.type == "subtitle"]

    @property
    def video_duration(self) -> float | None:
        """Seconds of the video timeline: the first video stream's duration, else the container's."""
        video = self.video
        return video[0].duration if video and video[0].duration else self.duration

    def to_dict(self) -> dict:
        """A JSON-ready dict (streams as a list of dicts)."""
        return asdict(self)


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def _rate(rate: Fraction | None) -> float | None:
    return float(rate) if rate else None


def _rotation(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> int:
    """Rotation (degrees counter-clockwise) of the first decodable frame; 0 when none decodes."""
    try:
        for frame in container.decode(stream):
            return int(frame.rotation or 0)
    except (av.error.FFmpegError, OSError, ValueError):
        return 0
    return 0


def _video_fields(container, stream) -> dict:
    cc = stream.codec_context
    rotation = _rotation(container, stream)
    w, h = cc.width, cc.height
    dw, dh = (h, w) if rotation % 180 else (w, h)
    avg, real = _rate(stream.average_rate), _rate(stream.base_rate)
    vfr = bool(avg and real and abs(avg - real) > _VFR_TOLERANCE * real)
    return dict(
        width=dw, height=dh, coded_width=w, coded_height=h, rotation=rotation,
        pix_fmt=cc.pix_fmt, avg_fps=avg, real_fps=real, is_vfr=vfr,
    )  # fmt: skip


def _audio_fields(stream, duration: float | None) -> dict:
    cc = stream.codec_context
    rate = cc.sample_rate or None
    return dict(
        sample_rate=rate,
        channels=cc.channels or None,
        samples=round(duration * rate) if duration and rate else None,
    )


def _stream_info(container, stream) -> StreamInfo:
    duration = _seconds(stream.duration, stream.time_base)
    extra = {}
    if stream.codec_context is None:  # no decoder could be set up (unknown or damaged codec parameters)
        return StreamInfo(index=stream.index, type=stream.type, codec=UNKNOWN_CODEC, duration=duration,
                          start_time=_seconds(stream.start_time, stream.time_base))  # fmt: skip
    if stream.type == "video":
        extra = _video_fields(container, stream)
    elif stream.type == "audio":
        extra = _audio_fields(stream, duration)
    return StreamInfo(
        index=stream.index,
        type=stream.type,
        codec=stream.codec_context.name,
        duration=duration,
        start_time=_seconds(stream.start_time, stream.time_base),
        frames=stream.frames or None,
        language=stream.language,
        bit_rate=stream.codec_context.bit_rate or None,
        **extra,
    )


def _index_truncated(stream, size: int) -> bool | None:
    entries = stream.index_entries
    if entries is None or len(entries) < 2:
        return None
    last = entries[len(entries) - 1]
    return last.pos + last.size > size


def probe(path: str | Path, *, scan: bool = False) -> MediaInfo:
    """Describe ``path``: container, duration (s), size and each stream's facts.

    scan: demux every packet to measure durations, frame counts and VFR exactly
    (reads the whole file; done automatically when the header has no duration).
    Raises NotMediaError for a missing, empty or non-media file.
    """
    path = Path(path)
    size = path.stat().st_size if path.is_file() else 0
    with open_media(path) as container:
        streams = [_stream_info(container, s) for s in container.streams]
        duration = _seconds(container.duration, Fraction(1, av.time_base))
        truncated = None
        for s in container.streams:
            if s.type in ("video", "audio"):
                t = _index_truncated(s, size)
                truncated = t if truncated is None else truncated or bool(t)
        info = MediaInfo(
            path=str(path),
            container=container.format.name,
            duration=duration,
            size_bytes=size,
            streams=streams,
            start_time=_seconds(container.start_time, Fraction(1, av.time_base)),
            bit_rate=container.bit_rate or None,
            truncated=truncated,
        )
        if scan or duration is None or any(s.duration is None for s in streams if s.type == "video"):
            info = _apply_scan(container, info)
    return info


def _scanned(stream: StreamInfo, table: PacketTable) -> StreamInfo:
    from avseq.io.scan import is_vfr

    end = table.end_seconds()
    start = float(int(table.pts.min()) * table.time_base) if table.has_pts else None
    # Negative timestamps are decoder pre-roll (e.g. AAC priming), not shown time.
    duration = end - max(start, 0.0) if end is not None and start is not None else stream.duration
    changes: dict = {"duration": duration}
    if stream.type == "video":
        changes.update(frames=len(table), is_vfr=is_vfr(table))
    elif stream.type == "audio" and duration and stream.sample_rate:
        changes.update(samples=round(duration * stream.sample_rate))
    return replace(stream, **changes)


def _apply_scan(container, info: MediaInfo) -> MediaInfo:
    """Replace header durations / frame counts with ones measured from the packets."""
    from avseq.io.scan import scan_streams

    wanted = [s for s in container.streams if s.type in ("video", "audio")]
    tables = scan_streams(container, wanted)
    streams = [_scanned(s, tables[s.index]) if s.index in tables else s for s in info.streams]
    durations = [s.duration for s in streams if s.duration is not None and s.type in ("video", "audio")]
    duration = info.duration if info.duration is not None else (max(durations) if durations else None)
    return replace(info, streams=streams, duration=duration, duration_source="packets")
