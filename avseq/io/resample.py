"""Audio frames <-> arrays and sample-rate / channel conversion with PyAV's AudioResampler.

Going to mono is the mean of all channels, whatever the layout (5.1 included: LFE and
surrounds count like the fronts), as librosa's ``to_mono``, FFmpeg's integer ``-ac 1`` path
and the published mel recipes downmix. libswresample's own float downmix would sum stereo at
-3 dB per channel, ``0.707 * (L + R)``: 3 dB hotter than the mean. Other channel counts use
libswresample's standard matrix.

Rate changes use libswresample set up as the "kaiser_best" windowed sinc (:data:`RESAMPLER_OPTIONS`:
64 zero crossings a side, Kaiser beta 14.77, roll-off 0.9476), the resampler of librosa 0.8's
``load`` (Diff-Foley) and of MMAudio's data loaders (torchaudio with those settings). Its
default (32 taps, cut-off 0.97) differs from them in the top 5% of the band, where the mel
presets that reach Nyquist (mmaudio-16k, default) have their highest bands.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import av
import numpy as np

if TYPE_CHECKING:
    import torch

RESAMPLER_OPTIONS = {"filter_size": "128", "cutoff": "0.9475937167399596", "filter_type": "kaiser",
                     "kaiser_beta": "14.769656459379492"}  # fmt: skip
LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


def layout_for(channels: int) -> str:
    """The FFmpeg channel layout name for ``channels`` channels."""
    if channels not in LAYOUTS:
        raise ValueError(f"Invalid channels {channels!r}. Supported: {sorted(LAYOUTS)}")
    return LAYOUTS[channels]


def as_wave(wave: torch.Tensor | np.ndarray) -> np.ndarray:
    """``float32 (C, N)`` numpy array from a (C, N) or (N,) tensor or array."""
    arr = wave.detach().cpu().numpy() if hasattr(wave, "detach") else np.asarray(wave)  # a tensor
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


def downmix(wave: np.ndarray) -> np.ndarray:
    """float32 (C, N) -> (1, N): the mean of all channels."""
    return wave.mean(axis=0, keepdims=True, dtype=np.float32)


def _mono_frames(frames: Iterable[av.AudioFrame]) -> Iterator[av.AudioFrame]:
    """``fltp`` mono frames holding the channel mean of ``frames`` (same rate, pts and time base)."""
    to_float = av.AudioResampler(format="fltp")  # passes fltp through; else converts the format only
    for frame in frames:
        if frame.layout.nb_channels == 1:
            yield frame
            continue
        for planar in to_float.resample(frame):
            mono = av.AudioFrame.from_ndarray(downmix(planar.to_ndarray()), format="fltp", layout="mono")
            mono.sample_rate, mono.pts = planar.sample_rate, planar.pts
            if planar.time_base is not None:
                mono.time_base = planar.time_base
            yield mono


def resample_frames(
    frames: Iterable[av.AudioFrame], *, rate: int | None, channels: int | None, fmt: str = "fltp"
) -> Iterator[av.AudioFrame]:
    """Resample ``frames`` to ``rate`` Hz / ``channels`` / sample format ``fmt``; flushes at the end.

    None keeps the input's rate or layout. ``channels=1`` is the mean of the input's channels
    (see the module docstring), taken before the rate changes.
    """
    if channels == 1:
        frames = _mono_frames(frames)
    resampler = None
    for frame in frames:
        if resampler is None:
            layout = layout_for(channels) if channels else frame.layout.name
            resampler = av.AudioResampler(
                format=fmt, layout=layout, rate=rate or frame.sample_rate, options=RESAMPLER_OPTIONS
            )
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
