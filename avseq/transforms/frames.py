"""Frame transforms: pure functions on decoded frames + thin ``nn.Module`` wrappers.

Frames are ``uint8 (T, 3, H, W)`` as decoded, or batched ``(B, T, 3, H, W)``. Sizes
are always ``(H, W)``. Every function runs on the device of its input (CPU or cuda),
so a stage that runs on the GPU resizes there too.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

from avseq.io.geometry import cover_size

Interpolation = Literal["bilinear", "bicubic", "nearest", "nearest-exact"]
_MODES = get_args(Interpolation)


def _check_frames(frames: torch.Tensor) -> None:
    if frames.dim() not in (4, 5) or frames.shape[-3] != 3:
        raise ValueError(f"frames must be (T, 3, H, W) or (B, T, 3, H, W), got shape {tuple(frames.shape)}")


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    if len(size) != 2 or any(not isinstance(s, int) or s <= 0 for s in size):
        raise ValueError(f"size must be (H, W) with positive ints, got {size!r}")
    return int(size[0]), int(size[1])


def _flat(frames: torch.Tensor) -> torch.Tensor:
    return frames.reshape(-1, *frames.shape[-3:])


def resize(
    frames: torch.Tensor, size: tuple[int, int], interpolation: Interpolation = "bilinear"
) -> torch.Tensor:
    """Resize every frame to ``size = (H, W)`` (antialiased), keeping dtype and device.

    frames: (T, 3, H0, W0) or (B, T, 3, H0, W0), uint8 or float. Returns (..., 3, H, W).
    """
    _check_frames(frames)
    h, w = _check_size(size)
    if interpolation not in _MODES:
        raise ValueError(
            f"Invalid interpolation {interpolation!r}. Supported: {', '.join(get_args(Interpolation))}"
        )
    if frames.shape[-2:] == (h, w):
        return frames
    out = _interpolate(_flat(frames), (h, w), interpolation)
    return out.reshape(*frames.shape[:-2], h, w)


def _interpolate(images: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """(N, C, H0, W0) -> (N, C, H, W), antialiased for bilinear/bicubic, as torchvision's resize does.

    uint8 stays uint8: resampled natively where torch can (on the CPU; nearest anywhere),
    else in float and rounded back. Plain torch, so the pipeline does not import torchvision.
    """
    smooth = mode in ("bilinear", "bicubic")
    kwargs = {"antialias": True, "align_corners": False} if smooth else {}
    native = images.dtype != torch.uint8 or not smooth or images.device.type == "cpu"
    if native:
        return F.interpolate(images, size=size, mode=mode, **kwargs)
    out = F.interpolate(images.float(), size=size, mode=mode, **kwargs)
    return out.round_().clamp_(0, 255).to(torch.uint8)


def center_crop(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crop the central ``size = (H, W)`` window of every frame (a view, no copy).

    frames: (T, 3, H0, W0) or (B, T, 3, H0, W0) with H0 >= H and W0 >= W.
    """
    _check_frames(frames)
    h, w = _check_size(size)
    h0, w0 = frames.shape[-2:]
    if h > h0 or w > w0:
        raise ValueError(f"crop size (H, W)={(h, w)} is larger than the frames {(h0, w0)}")
    top, left = (h0 - h) // 2, (w0 - w) // 2
    return frames[..., top : top + h, left : left + w]


def to_float(frames: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 frames in [0, 255] -> float in [0, 1], same shape and device."""
    _check_frames(frames)
    if frames.dtype != torch.uint8:
        raise ValueError(f"to_float expects uint8 frames, got dtype {frames.dtype}")
    return frames.to(dtype).div_(255.0)


def fit(
    frames: torch.Tensor, size: tuple[int, int], interpolation: Interpolation = "bilinear"
) -> torch.Tensor:
    """Resize so the frames cover ``size`` with their aspect kept, then center-crop to ``size``."""
    _check_frames(frames)
    h, w = _check_size(size)
    covered = cover_size(*frames.shape[-2:], (h, w))
    return center_crop(resize(frames, covered, interpolation), (h, w))


class Resize(nn.Module):
    """Module form of :func:`resize`."""

    def __init__(self, size: tuple[int, int], interpolation: Interpolation = "bilinear") -> None:
        super().__init__()
        self.size = _check_size(tuple(size))
        self.interpolation = interpolation

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return resize(frames, self.size, self.interpolation)

    def extra_repr(self) -> str:
        return f"size(H, W)={self.size}, interpolation={self.interpolation!r}"


class CenterCrop(nn.Module):
    """Module form of :func:`center_crop`."""

    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.size = _check_size(tuple(size))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return center_crop(frames, self.size)

    def extra_repr(self) -> str:
        return f"size(H, W)={self.size}"


class ToFloat(nn.Module):
    """Module form of :func:`to_float`."""

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return to_float(frames)


class Fit(nn.Module):
    """Module form of :func:`fit` (cover then center-crop)."""

    def __init__(self, size: tuple[int, int], interpolation: Interpolation = "bilinear") -> None:
        super().__init__()
        self.size = _check_size(tuple(size))
        self.interpolation = interpolation

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return fit(frames, self.size, self.interpolation)

    def extra_repr(self) -> str:
        return f"size(H, W)={self.size}"
