"""Audio decoding (``decode_audio``) and writing (``write_audio``: WAV or FLAC)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np

from avseq.errors import MediaError, NoStreamError, UnsupportedCodecError
from avseq.io.atomic import atomic_path
from avseq.io.limits import DEFAULT_LIMITS, MediaLimits, check_value
from avseq.io.opener import map_error, open_media
from avseq.io.probe import UNKNOWN_CODEC, MediaInfo, StreamInfo, probe
from avseq.io.raw import RawAudio
from avseq.io.resample import as_wave, frames_from_wave, layout_for, resample_frames
from avseq.io.truncation import OnTruncated, check_truncation, is_truncated, validate_on_truncated

if TYPE_CHECKING:
    import torch

    from avseq.types import Audio

SEEK_PREROLL = 0.5  # seconds decoded before ``start`` after a seek, then dropped
WRITE_CODECS = {".wav": ("wav", "pcm_s16le", "s16"), ".flac": ("flac", "flac", "s16")}


def _audio_stream(path: Path, info: MediaInfo, stream: int) -> StreamInfo:
    audios = info.audio
    if not audios:
        raise NoStreamError(path, "no audio stream")
    if not isinstance(stream, int) or not 0 <= stream < len(audios):
        raise NoStreamError(path, f"no audio stream {stream} (the file has {len(audios)} audio streams)")
    if audios[stream].codec == UNKNOWN_CODEC:
        raise UnsupportedCodecError(
            path, f"audio stream {stream} has no usable codec (unknown or damaged codec parameters)"
        )
    return audios[stream]


def _validate(sample_rate, channels, start, end) -> None:
    if sample_rate is not None and (not isinstance(sample_rate, int) or sample_rate <= 0):
        raise ValueError(f"Invalid sample_rate {sample_rate!r}: must be an int > 0 (Hz)")
    if channels is not None:
        layout_for(channels)
    if start < 0:
        raise ValueError(f"Invalid start {start!r}: must be seconds >= 0")
    if end is not None and end <= start:
        raise ValueError(f"Invalid end {end!r}: must be > start ({start})")


def _decoded_frames(container, astream, start: float, end: float | None, errors: list):
    """Decoded frames of ``astream`` from about ``start`` until past ``end``; a decode error ends it."""
    if start > SEEK_PREROLL:
        # Decoders need the frames before ``start`` (MDCT overlap), so seek a little earlier.
        container.seek(int((start - SEEK_PREROLL) / astream.time_base), stream=astream, backward=True)
    try:
        for frame in container.decode(astream):
            if frame.time_base is None:
                frame.time_base = astream.time_base
            yield frame
            if end is not None and frame.time is not None and frame.time >= end:
                return
    except (av.error.FFmpegError, ValueError) as err:
        errors.append(err)


def _trim(wave: np.ndarray, first: float, rate: int, start: float, end: float | None):
    """Cut float32 (C, N) ``wave`` starting at ``first`` s to [start, end); returns (wave, start s)."""
    skip = max(0, round((start - first) * rate))
    wave = wave[:, skip:]
    if end is not None:
        wave = wave[:, : max(0, round((end - (first + skip / rate)) * rate))]
    return wave, first + skip / rate


def decode_audio(path: str | Path, **options) -> Audio:
    """Decode audio stream ``stream`` of ``path`` to float32 ``(C, N)`` in [-1, 1], as
    :class:`~avseq.types.Audio`; the options are those of :func:`decode_audio_arrays`."""
    return decode_audio_arrays(path, **options).load()


def decode_audio_arrays(
    path: str | Path,
    *,
    sample_rate: int | None = None,
    channels: int | None = None,
    stream: int = 0,
    start: float = 0.0,
    end: float | None = None,
    on_truncated: OnTruncated = "error",
    limits: MediaLimits | None = None,
) -> RawAudio:
    """Decode audio stream ``stream`` of ``path`` to float32 ``(C, N)`` in [-1, 1] (numpy: torch
    is never imported; :func:`decode_audio` gives the same as Audio).

    sample_rate / channels: convert with PyAV's AudioResampler (None keeps the
    file's): ``channels=1`` is the mean of all channels, whatever the layout, and rates
    change with the "kaiser_best" filter (see :mod:`avseq.io.resample`). start / end:
    seconds on the file's timeline. ``Audio.start`` is the
    time of the first returned sample on the video timeline (e.g. 0.015 when the
    audio starts after the video). Data that ends noticeably before the declared
    duration raises TruncatedMediaError (on_truncated="error") or warns ("warn").
    """
    path, limits = Path(path), limits or DEFAULT_LIMITS
    _validate(sample_rate, channels, start, end)
    validate_on_truncated(on_truncated)
    info = probe(path)
    ainfo = _audio_stream(path, info, stream)
    check_value(path, limits, "max_duration", info.duration, " s")
    check_value(path, limits, "max_channels", channels or ainfo.channels)
    check_value(path, limits, "max_sample_rate", sample_rate or ainfo.sample_rate, " Hz")
    errors: list = []
    with open_media(path) as container:
        astream = container.streams.audio[stream]
        out = list(resample_frames(_decoded_frames(container, astream, start, end, errors),
                                   rate=sample_rate, channels=channels))  # fmt: skip
    rate = sample_rate or ainfo.sample_rate
    first = float(out[0].pts * out[0].time_base) if out and out[0].pts is not None else start
    c = channels or ainfo.channels or 1
    wave = np.concatenate([f.to_ndarray() for f in out], axis=1) if out else np.zeros((c, 0), np.float32)
    decoded_end = first + wave.shape[1] / rate
    declared_end = (ainfo.start_time or 0.0) + ainfo.duration if ainfo.duration else None
    target = declared_end if end is None or declared_end is None else min(end, declared_end)
    if errors and not (target is not None and is_truncated(decoded_end, target, start)):
        raise map_error(path, errors[0]) from errors[0]
    check_truncation(path, "audio", decoded_end, target, start=start, on_truncated=on_truncated)
    wave, first = _trim(wave, first, rate, start, end)
    return RawAudio(np.ascontiguousarray(wave), int(rate), start=first)


def write_audio(path: str | Path, wave: torch.Tensor | np.ndarray, sample_rate: int) -> Path:
    """Write float ``wave`` (C, N) or (N,) in [-1, 1] as 16-bit WAV or FLAC (by extension), atomically."""
    path = Path(path)
    if path.suffix.lower() not in WRITE_CODECS:
        raise ValueError(f"Invalid audio file extension {path.suffix!r} for {path}. Supported: .wav, .flac")
    if not isinstance(sample_rate, int) or sample_rate <= 0:
        raise ValueError(f"Invalid sample_rate {sample_rate!r}: must be an int > 0 (Hz)")
    arr = np.clip(as_wave(wave), -1.0, 1.0)
    try:
        _write_wave(path, arr, sample_rate)
    except (av.error.FFmpegError, OSError) as err:
        raise MediaError(path, f"cannot write audio ({' '.join(str(err).split())})") from err
    return path


def _write_wave(path: Path, arr: np.ndarray, sample_rate: int) -> None:
    fmt, codec, sample_fmt = WRITE_CODECS[path.suffix.lower()]
    with atomic_path(path) as tmp, av.open(str(tmp), mode="w", format=fmt) as out:
        stream = out.add_stream(codec, rate=sample_rate, layout=layout_for(arr.shape[0]))
        stream.format = sample_fmt
        frames = resample_frames(frames_from_wave(arr, sample_rate), rate=None, channels=None, fmt=sample_fmt)
        for frame in frames:
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
