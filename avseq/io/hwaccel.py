"""Hardware-accelerated decoding: ``hwaccel="cuda"`` with a CPU fallback that says so."""

from __future__ import annotations

import warnings
from pathlib import Path

import av
from av.codec.hwaccel import HWAccel, hwdevices_available

HWACCELS = (None, "cuda")


def validate_hwaccel(hwaccel: str | None) -> str | None:
    """Check the ``hwaccel`` argument against the supported choices."""
    if hwaccel not in HWACCELS:
        raise ValueError(f"Invalid hwaccel {hwaccel!r}. Supported: None, 'cuda'")
    return hwaccel


def cuda_decode_available() -> bool:
    """True when FFmpeg was built with CUDA support and torch sees a CUDA device."""
    import torch

    return "cuda" in hwdevices_available() and torch.cuda.is_available()


def cpu_fallback_warning(path: str | Path, reason: str) -> None:
    """Warn that a CUDA decode of ``path`` runs on the CPU instead, and why."""
    warnings.warn(f"{path}: hwaccel='cuda' unavailable ({reason}); decoding on the CPU", stacklevel=4)


def open_options(path: str | Path, hwaccel: str | None) -> dict:
    """Keyword arguments for ``av.open``: the CUDA HWAccel, or none (after a warning)."""
    if validate_hwaccel(hwaccel) is None:
        return {}
    if not cuda_decode_available():
        cpu_fallback_warning(path, "no CUDA device or FFmpeg built without CUDA")
        return {}
    return {"hwaccel": HWAccel(device_type="cuda", allow_software_fallback=True)}


def is_hwaccel_error(err: BaseException) -> bool:
    """True for the errors PyAV raises when a hardware device cannot be created."""
    return isinstance(err, av.error.FFmpegError) and not isinstance(err, av.error.InvalidDataError)
