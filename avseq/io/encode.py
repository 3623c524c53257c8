"""Encode frames (and optionally audio) into a new media file with PyAV.

Used to make test media on the fly and by the synthetic world generator. Real
outputs that keep an input's video use :mod:`avseq.io.mux` instead (packet copy).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from av.video.reformatter import VideoReformatter

from avseq.io.atomic import atomic_path

_AUDIO_CODEC_FORMAT = {
    "aac": "fltp",
    "libopus": "flt",
    "opus": "flt",
    "pcm_s16le": "s16",
    "flac": "s16",
    "mp3": "fltp",
    "libmp3lame": "fltp",
    "libvorbis": "fltp",
}


def _to_hwc_uint8(frames: torch.Tensor | np.ndarray) -> np.ndarray:
    arr = frames.cpu().numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    if arr.ndim != 4:
        raise ValueError(f"frames must be (T, H, W, 3) or (T, 3, H, W), got {arr.shape}")
    if arr.shape[-1] != 3 and arr.shape[1] == 3:
        arr = arr.transpose(0, 2, 3, 1)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def write_video(
    path: str | Path,
    frames: torch.Tensor | np.ndarray,
    fps: float = 15.0,
    *,
    pts: list[float] | None = None,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    audio: torch.Tensor | np.ndarray | None = None,
    sample_rate: int = 16000,
    audio_codec: str = "aac",
    extra_audio: list[torch.Tensor | np.ndarray] | None = None,
    rotation: int | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """Write ``frames`` (T, H, W, 3) or (T, 3, H, W) uint8 RGB as a video file.

    fps: nominal frame rate. pts: optional per-frame presentation times in
    seconds (variable frame rate); default ``i / fps``. audio: optional (C, N)
    or (N,) float waveform in [-1, 1] at ``sample_rate``; ``extra_audio`` adds
    more audio streams. rotation: display-matrix rotation in degrees
    counter-clockwise (as ``VideoFrame.rotation`` reads it back). The format
    follows the file extension. Written atomically.
    Odd sizes are allowed with yuv444p; yuv420p needs even width and height.
    """
    arr = _to_hwc_uint8(frames)
    t, h, w, _ = arr.shape
    path = Path(path)
    rate = Fraction(fps).limit_denominator(1001)
    time_base = Fraction(1, 90000) if pts is not None else 1 / rate
    with atomic_path(path) as tmp, av.open(str(tmp), mode="w", format=_format_for(path)) as out:
        vs = out.add_stream(codec, rate=rate)
        vs.width, vs.height, vs.pix_fmt = w, h, pix_fmt
        if options:
            vs.options = dict(options)
        if pts is not None:
            vs.time_base = time_base
        if rotation:
            # The "rotate" tag is ignored by current FFmpeg muxers; write a display matrix.
            vs.set_display_rotation(rotation)
        streams = []
        for wave in ([audio] if audio is not None else []) + list(extra_audio or []):
            streams.append((_add_audio_stream(out, audio_codec, sample_rate, wave), wave))
        # Convert here with one swscale thread: PyAV's own conversion inside encode() picks
        # the thread count from the machine, so the same frames could differ in the last bit.
        # One reformatter for the whole stream keeps its scaler (see avseq.io.convert).
        reformatter = VideoReformatter()
        for i in range(t):
            frame = reformatter.reformat(
                av.VideoFrame.from_ndarray(arr[i], format="rgb24"), format=pix_fmt, threads=1
            )
            # Always stamp frames: x264 rate control reads timestamps, and unstamped frames
            # made the same input encode to different bytes from run to run.
            frame.pts = round(pts[i] / time_base) if pts is not None else i
            frame.time_base = time_base
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        for stream, wave in streams:
            _encode_audio(out, stream, wave, sample_rate)
    return path


def _format_for(path: Path) -> str | None:
    return {".mkv": "matroska", ".webm": "webm", ".avi": "avi", ".mov": "mov", ".mp4": "mp4"}.get(
        path.suffix.lower()
    )


def _add_audio_stream(out, codec: str, sample_rate: int, wave) -> av.audio.stream.AudioStream:
    w = np.asarray(wave.cpu() if isinstance(wave, torch.Tensor) else wave, dtype=np.float32)
    channels = 1 if w.ndim == 1 else w.shape[0]
    stream = out.add_stream(codec, rate=sample_rate)
    stream.layout = "mono" if channels == 1 else "stereo"
    return stream


def _encode_audio(out, stream, wave, sample_rate: int) -> None:
    w = np.asarray(wave.cpu() if isinstance(wave, torch.Tensor) else wave, dtype=np.float32)
    if w.ndim == 1:
        w = w[None]
    fmt = _AUDIO_CODEC_FORMAT.get(stream.codec_context.name, "fltp")
    chunk = stream.codec_context.frame_size or 1024
    for start in range(0, w.shape[1], chunk):
        piece = np.clip(w[:, start : start + chunk], -1.0, 1.0)
        if fmt == "s16":
            data = (piece.T.reshape(1, -1) * 32767).astype(np.int16)
        elif fmt == "flt":
            data = np.ascontiguousarray(piece.T.reshape(1, -1))
        else:
            data = np.ascontiguousarray(piece)
        frame = av.AudioFrame.from_ndarray(data, format=fmt, layout=stream.layout.name)
        frame.sample_rate = sample_rate
        frame.pts = start
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
