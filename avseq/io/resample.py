"""Audio frames <-> arrays and sample-rate / channel conversion with PyAV's AudioResampler."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import av
import numpy as np
import torch

LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


def layout_for(channels: int) -> str:
    """The FFmpeg channel layout name for ``channels`` channels."""
    if channels not in LAYOUTS:
        raise ValueError(f"Invalid channels {channels!r}. Supported: {sorted(LAYOUTS)}")
    return LAYOUTS[channels]


def as_wave(wave: torch.Tensor | np.ndarray) -> np.ndarray:
    """``float32 (C, N)`` numpy array from a (C, N) or (N,) tensor or array."""
    arr = wave.detach().cpu().numpy() if isinstance(wave, torch.Tensor) else np.asarray(wave)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[0] not in LAYOUTS:
        raise ValueError(f"wave must be (C, N) with 1 <= C <= 8 or (N,), got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def frames_from_wave(
    wave: np.ndarray, sample_rate: int, chunk: int = 4096, first_pts: int = 0
) -> Iterator[av.AudioFrame]:
    """``fltp`` AudioFrames of ``chunk`` samples from a float32 (C, N) array; pts in samples."""
    layout = layout_for(wave.shape[0])
    for start in range(0, wave.shape[1], chunk):
        piece = np.ascontiguousarray(wave[:, start : start + chunk])
        frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout=layout)
        frame.sample_rate = sample_rate
        frame.pts = first_pts + start
        yield frame


def resample_frames(
    frames: Iterable[av.AudioFrame], *, rate: int | None, channels: int | None, fmt: str = "fltp"
) -> Iterator[av.AudioFrame]:
    """Resample ``frames`` to ``rate`` Hz / ``channels`` / sample format ``fmt``; flushes at the end.

    None keeps the input's rate or layout.
    """
    resampler = None
    for frame in frames:
        if resampler is None:
            layout = layout_for(channels) if channels else frame.layout.name
            resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate or frame.sample_rate)
        yield from resampler.resample(frame)
    if resampler is not None:
        yield from resampler.resample(None)


def resample_wave(wave: np.ndarray, sample_rate: int, rate: int, channels: int | None = None) -> np.ndarray:
    """float32 (C, N) ``wave`` at ``sample_rate`` resampled to ``rate`` Hz (and ``channels``)."""
    if rate == sample_rate and channels in (None, wave.shape[0]):
        return wave
    out = [
        f.to_ndarray()
        for f in resample_frames(frames_from_wave(wave, sample_rate), rate=rate, channels=channels)
    ]
    c = channels or wave.shape[0]
    return np.concatenate(out, axis=1) if out else np.zeros((c, 0), dtype=np.float32)
