"""Probe one clip and decide whether it can be trained on: :func:`inspect_clip`.

Runs in the worker processes of :func:`~avseq.data.sources.build.build_manifests`, so it imports
PyAV and numpy, never torch. A clip passes when it opens, is not truncated, has a video stream
and lasts at least ``min_duration`` seconds; for a sound source (the audio track is the target)
it must also have an audio track that decodes to the end and whose peak reaches ``silence_db``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avseq.data.sources.base import Problem
from avseq.errors import AvseqError, TruncatedMediaError
from avseq.io.probe import UNKNOWN_CODEC, MediaInfo, probe

AUDIO_WINDOW = 60.0  # seconds of audio decoded at a time when measuring the peak
DEFAULT_MIN_DURATION = 1.0
DEFAULT_SILENCE_DB = -60.0


@dataclass(frozen=True)
class Checks:
    """What a clip must pass. sound: the audio track is the training target, so a clip without
    one, or whose peak stays below ``silence_db`` dBFS, is left out; min_duration in seconds."""

    sound: bool
    min_duration: float = DEFAULT_MIN_DURATION
    silence_db: float = DEFAULT_SILENCE_DB


@dataclass(frozen=True)
class Facts:
    """What probing found: the video timeline's duration (s), the average frame rate, the file
    size, whether an audio track is there and its sample rate, and (sound sources) its peak."""

    duration: float
    fps: float | None
    size_bytes: int
    has_audio: bool
    sample_rate: int | None
    peak_db: float | None = None


def inspect_clip(path: Path, checks: Checks) -> Facts | Problem:
    """The clip's :class:`Facts`, or the :class:`Problem` that leaves it out. Never raises."""
    try:
        return _inspect(Path(path), checks)
    except TruncatedMediaError as err:
        return Problem("truncated", _line(err))
    except AvseqError as err:
        return Problem("unreadable", _line(err))
    except Exception as err:  # a damaged file must cost one clip, never the whole run
        return Problem("unreadable", f"{path}: {type(err).__name__}: {_line(err)}")


def _line(err: Exception) -> str:
    return " ".join(str(err).split())[:300]


def _inspect(path: Path, checks: Checks) -> Facts | Problem:
    if not path.is_file():
        return Problem("missing", f"{path}: no such file")
    info = probe(path)
    if info.truncated:
        return Problem("truncated", f"{path}: the container's index points past the end of the file")
    if not any(s.codec != UNKNOWN_CODEC for s in info.video):
        return Problem("no_video", f"{path}: no decodable video stream")
    duration = info.video_duration
    if not duration:
        return Problem("unreadable", f"{path}: the file does not say how long it is")
    if duration < checks.min_duration:
        return Problem("too_short", f"{path}: {duration:.3f} s, shorter than {checks.min_duration:g} s")
    audio = [s for s in info.audio if s.codec != UNKNOWN_CODEC]
    facts = Facts(
        duration=round(duration, 6),
        fps=round(info.video[0].avg_fps, 6) if info.video[0].avg_fps else None,
        size_bytes=info.size_bytes,
        has_audio=bool(audio),
        sample_rate=audio[0].sample_rate if audio else None,
    )
    if not checks.sound:
        return facts
    if not audio:
        return Problem("no_audio", f"{path}: no audio stream (a sound source trains on the audio track)")
    peak = audio_peak_db(path, info)
    if peak < checks.silence_db:
        level = "digital silence" if peak == -math.inf else f"peak {peak:.1f} dBFS"
        return Problem("silent", f"{path}: {level}, below {checks.silence_db:g} dBFS")
    return Facts(**{**facts.__dict__, "peak_db": round(peak, 2)})


def audio_peak_db(path: Path, info: MediaInfo) -> float:
    """Peak level of the first audio track in dBFS (-inf for digital silence), decoded in
    windows of :data:`AUDIO_WINDOW` seconds to the end; a truncated track raises."""
    from avseq.io.audio import decode_audio_arrays

    total = info.audio[0].duration or info.duration
    starts = [0.0] if not total else np.arange(0.0, total, AUDIO_WINDOW).tolist()
    peak = 0.0
    for start in starts:
        end = start + AUDIO_WINDOW if total else None
        wave = decode_audio_arrays(path, start=start, end=end, on_truncated="error").wave
        if wave.size:
            peak = max(peak, float(np.abs(wave).max()))
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf
