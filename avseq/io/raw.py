"""Decoded media as numpy arrays, made where torch is never imported: the decode workers.

A run forks its decode workers before the main process imports torch (which takes longer
than decoding a short clip), so what they make is numpy. Each raw value becomes its
:mod:`avseq.types` value when it is unpickled in the main process (the tensors share the
received bytes: no copy) or when :meth:`load` is called in-process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _frames(data: np.ndarray, pts: np.ndarray) -> Any:
    import torch

    from avseq.types import Frames

    return Frames(torch.from_numpy(data), torch.from_numpy(pts))


def _video(frames: Any, picks: dict[str, np.ndarray]) -> Any:
    import torch

    from avseq.types import DecodedVideo

    # unpickled, ``frames`` is already Frames (pickle rebuilds the inner value first)
    return DecodedVideo(load(frames), {c: torch.from_numpy(i) for c, i in picks.items()})


def _audio(wave: np.ndarray, sample_rate: int, start: float) -> Any:
    import torch

    from avseq.types import Audio

    return Audio(torch.from_numpy(wave), sample_rate, start=start)


@dataclass(frozen=True)
class RawFrames:
    """:class:`~avseq.types.Frames` as arrays: data uint8 (T, 3, H, W), pts float64 (T,) seconds."""

    data: np.ndarray
    pts: np.ndarray

    def __len__(self) -> int:
        return len(self.pts)

    def load(self) -> Any:
        return _frames(self.data, self.pts)

    def __reduce__(self) -> tuple:
        return _frames, (self.data, self.pts)


@dataclass(frozen=True)
class RawVideo:
    """:class:`~avseq.types.DecodedVideo` as arrays: frames, and per consumer int64 picks."""

    frames: RawFrames
    picks: dict[str, np.ndarray] = field(default_factory=dict)

    def load(self) -> Any:
        return _video(self.frames, self.picks)

    def __reduce__(self) -> tuple:
        return _video, (self.frames, self.picks)


@dataclass(frozen=True)
class RawAudio:
    """:class:`~avseq.types.Audio` as arrays: wave float32 (C, N), sample_rate Hz, start seconds."""

    wave: np.ndarray
    sample_rate: int
    start: float = 0.0

    @property
    def duration(self) -> float:
        return self.wave.shape[-1] / self.sample_rate

    def load(self) -> Any:
        return _audio(self.wave, self.sample_rate, self.start)

    def __reduce__(self) -> tuple:
        return _audio, (self.wave, self.sample_rate, self.start)


def load(value: Any) -> Any:
    """``value`` as its avseq.types value if it is raw; anything else as it is."""
    return value.load() if isinstance(value, (RawFrames, RawVideo, RawAudio)) else value
