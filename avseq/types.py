"""Typed records passed between stages.

Each record checks its own shapes on construction and prints shapes, not
tensors, in its repr. Times are always seconds. Variable length is carried as
``(tensor, lengths)``: padded positions hold zeros and must be ignored;
:func:`pad_sequences` makes that pair and :func:`unpad` undoes it, for every
caller (batch records here, training collation, the pipeline's per-clip split).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch


def _shape(t: torch.Tensor) -> str:
    return f"{tuple(t.shape)} {str(t.dtype).removeprefix('torch.')} {t.device}"


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(msg)


def pad_sequences(
    items: Sequence[torch.Tensor], dim: int = 0, value: float = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack tensors that differ in size along ``dim``, padding with ``value``.

    Returns (B, ...) padded, on the items' device with their dtype, and (B,) int64 lengths
    along ``dim``, on the same device.
    """
    _check(len(items) > 0, "pad_sequences needs at least one tensor")
    sizes = [t.shape[dim] for t in items]
    shape = list(items[0].shape)
    shape[dim] = max(sizes)
    out = items[0].new_full((len(items), *shape), value)
    for i, t in enumerate(items):
        out[i].narrow(dim, 0, sizes[i]).copy_(t)
    return out, torch.tensor(sizes, dtype=torch.int64, device=out.device)


def unpad(data: torch.Tensor, lengths: torch.Tensor, dim: int = 0) -> list[torch.Tensor]:
    """Inverse of :func:`pad_sequences`: the B items of ``data`` (B, ...), each cut to its length
    along ``dim`` (a dimension of one item). Views, on ``data``'s device."""
    return [item.narrow(dim, 0, n) for item, n in zip(data, lengths.tolist(), strict=True)]


@dataclass(frozen=True, repr=False)
class Frames:
    """Frames of one clip.

    data: (T, C, H, W), uint8 (as decoded) or float (after transforms).
    pts: (T,) float64 presentation time of each frame in seconds.
    """

    data: torch.Tensor
    pts: torch.Tensor

    def __post_init__(self) -> None:
        _check(self.data.dim() == 4, f"Frames.data must be (T, C, H, W), got {tuple(self.data.shape)}")
        _check(
            self.pts.shape == (self.data.shape[0],),
            f"Frames.pts must be (T,) with T={self.data.shape[0]}, got {tuple(self.pts.shape)}",
        )

    def __len__(self) -> int:
        return self.data.shape[0]

    def __repr__(self) -> str:
        return f"Frames(data={_shape(self.data)}, pts={tuple(self.pts.shape)})"


@dataclass(frozen=True, repr=False)
class DecodedVideo:
    """Frames of one clip decoded once for several consumers.

    frames: uint8 (T, 3, H, W), every frame any consumer samples, in time order.
    picks: consumer stage id -> (T_c,) int64 indices into ``frames`` of that consumer's frames;
        a consumer not listed takes them all.
    """

    frames: Frames
    picks: dict[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.frames)
        for consumer, index in self.picks.items():
            _check(
                index.dim() == 1 and (len(index) == 0 or 0 <= int(index.min()) <= int(index.max()) < n),
                f"DecodedVideo.picks[{consumer!r}] must index the {n} frames, got {tuple(index.shape)}",
            )

    def take(self, consumer: str) -> Frames:
        """The frames ``consumer`` samples (all of them when it has no picks of its own)."""
        index = self.picks.get(consumer)
        if index is None:
            return self.frames
        return Frames(self.frames.data[index], self.frames.pts[index])

    @property
    def nbytes(self) -> int:
        """Bytes of frame data held."""
        return self.frames.data.numel() * self.frames.data.element_size()

    def __repr__(self) -> str:
        counts = {c: len(i) for c, i in self.picks.items()}
        return f"DecodedVideo(frames={self.frames!r}, picks={counts})"


@dataclass(frozen=True, repr=False)
class FrameBatch:
    """Frames of several clips, padded to the longest.

    data: (B, T, C, H, W); pts: (B, T) float64 seconds (kept on the CPU); lengths: (B,) int64
    valid frames per clip, on ``data``'s device.
    """

    data: torch.Tensor
    pts: torch.Tensor
    lengths: torch.Tensor

    def __post_init__(self) -> None:
        _check(self.data.dim() == 5, f"FrameBatch.data must be (B, T, C, H, W), got {tuple(self.data.shape)}")
        b, t = self.data.shape[:2]
        _check(self.pts.shape == (b, t), f"FrameBatch.pts must be {(b, t)}, got {tuple(self.pts.shape)}")
        _check(
            self.lengths.shape == (b,), f"FrameBatch.lengths must be ({b},), got {tuple(self.lengths.shape)}"
        )

    @classmethod
    def from_clips(cls, clips: Sequence[Frames]) -> FrameBatch:
        """Pad ``clips`` with zeros to the longest and stack them (:func:`pad_sequences`)."""
        _check(len(clips) > 0, "FrameBatch.from_clips needs at least one clip")
        data, lengths = pad_sequences([c.data for c in clips])
        pts, _ = pad_sequences([c.pts.to(torch.float64) for c in clips])
        return cls(data, pts, lengths)

    def clip(self, i: int) -> Frames:
        """The i-th clip without padding."""
        n = int(self.lengths[i])
        return Frames(self.data[i, :n], self.pts[i, :n])

    def to(self, device: torch.device | str) -> FrameBatch:
        """``data`` and ``lengths`` on ``device`` (``pts`` stay float64 on the CPU)."""
        return FrameBatch(self.data.to(device), self.pts, self.lengths.to(device))

    def __repr__(self) -> str:
        return f"FrameBatch(data={_shape(self.data)}, lengths={self.lengths.tolist()})"


@dataclass(frozen=True, repr=False)
class Features:
    """Per-frame features. data: (B, T, D); lengths: (B,) int64."""

    data: torch.Tensor
    lengths: torch.Tensor

    def __post_init__(self) -> None:
        _check(self.data.dim() == 3, f"Features.data must be (B, T, D), got {tuple(self.data.shape)}")
        _check(
            self.lengths.shape == (self.data.shape[0],),
            f"Features.lengths must be ({self.data.shape[0]},), got {tuple(self.lengths.shape)}",
        )

    def to(self, device: torch.device | str) -> Features:
        """``data`` and ``lengths`` on ``device``."""
        return Features(self.data.to(device), self.lengths.to(device))

    def __repr__(self) -> str:
        return f"Features(data={_shape(self.data)}, lengths={self.lengths.tolist()})"


@dataclass(frozen=True, repr=False)
class Spectrogram:
    """Log-mel spectrograms. data: (B, n_mels, T'); lengths: (B,) frames; frame_rate in Hz."""

    data: torch.Tensor
    lengths: torch.Tensor
    frame_rate: float

    def __post_init__(self) -> None:
        _check(self.data.dim() == 3, f"Spectrogram.data must be (B, n_mels, T), got {tuple(self.data.shape)}")
        _check(
            self.lengths.shape == (self.data.shape[0],),
            f"Spectrogram.lengths must be ({self.data.shape[0]},), got {tuple(self.lengths.shape)}",
        )
        _check(self.frame_rate > 0, f"Spectrogram.frame_rate must be > 0, got {self.frame_rate}")

    def __repr__(self) -> str:
        return (
            f"Spectrogram(data={_shape(self.data)}, lengths={self.lengths.tolist()}, "
            f"frame_rate={self.frame_rate:g})"
        )


@dataclass(frozen=True, repr=False)
class Audio:
    """A decoded audio signal of one clip.

    wave: (C, N) float32 in [-1, 1]; sample_rate in Hz; start: time in seconds of
    the first sample on the video's timeline (may be negative or positive).
    """

    wave: torch.Tensor
    sample_rate: int
    start: float = 0.0

    def __post_init__(self) -> None:
        _check(self.wave.dim() == 2, f"Audio.wave must be (C, N), got {tuple(self.wave.shape)}")
        _check(self.sample_rate > 0, f"Audio.sample_rate must be > 0, got {self.sample_rate}")

    @property
    def duration(self) -> float:
        return self.wave.shape[1] / self.sample_rate

    def __repr__(self) -> str:
        return (
            f"Audio(wave={_shape(self.wave)}, sample_rate={self.sample_rate}, "
            f"start={self.start:.4f}, duration={self.duration:.4f})"
        )
