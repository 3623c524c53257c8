"""Hardware-accelerated decoding: ``hwaccel="cuda"`` (NVDEC through PyAV), and where a decode ran.

A CUDA request can end up on the CPU in three ways, and a :class:`DecodePlace` finds out each
while the decode runs, warns (:class:`CpuFallbackWarning`) and records it in a :class:`DecodedOn`
that travels with the frames:

1. no device: FFmpeg built without CUDA, or no NVIDIA GPU on this machine (checked without
   initialising CUDA: a process that has initialised it cannot use it in the processes it forks);
2. the device cannot be created (no driver, or one too old): ``av.open`` fails and the file is
   opened again for the CPU;
3. the codec has no NVDEC decoder (VP8, Theora, MJPEG, ...), or NVDEC refuses this stream's
   profile or pixel format (4:4:4, 10-bit on older cards): PyAV then decodes in software without
   a word (``allow_software_fallback``), so the codec context is asked after the first frame
   whether its frames came from the device (pixel format ``cuda``).

Only a decode whose frames were seen coming from the device reports ``device="cuda"``.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import av
from av.codec.hwaccel import HWAccel, hwdevices_available

HWACCELS = "None, 'cuda', 'cuda:N'"
HW_PIXEL_FORMAT = "cuda"  # the pixel format of frames NVDEC decodes into device memory
NVIDIA_DEVICE_NODES = "/dev/nvidia[0-9]*"


class CpuFallbackWarning(UserWarning):
    """A CUDA decode was asked for and runs on the CPU (the message says why)."""


def validate_hwaccel(hwaccel: str | None) -> str | None:
    """Check the ``hwaccel`` argument: None, ``"cuda"`` or ``"cuda:N"`` (GPU N)."""
    if hwaccel is None or (isinstance(hwaccel, str) and re.fullmatch(r"cuda(:\d+)?", hwaccel)):
        return hwaccel
    raise ValueError(f"Invalid hwaccel {hwaccel!r}. Supported: {HWACCELS}")


def nvidia_gpu_present() -> bool:
    """True when the machine shows an NVIDIA GPU device node (no CUDA call, so fork-safe)."""
    return any(Path("/dev").glob(NVIDIA_DEVICE_NODES[len("/dev/") :]))


def cuda_decode_available() -> bool:
    """True when FFmpeg was built with CUDA and an NVIDIA GPU is present (see the module docstring)."""
    return "cuda" in hwdevices_available() and nvidia_gpu_present()


def is_hwaccel_error(err: BaseException | None) -> bool:
    """True for the errors PyAV raises when a hardware device cannot be created."""
    return isinstance(err, av.error.FFmpegError) and not isinstance(err, av.error.InvalidDataError)


@dataclass(frozen=True)
class DecodedOn:
    """Where a decode's frames were decoded: ``device`` "cuda" (NVDEC) or "cpu"; ``fallback``:
    why a CUDA decode ran on the CPU instead (None when the CPU was asked for, or the GPU ran it)."""

    device: Literal["cuda", "cpu"] = "cpu"
    fallback: str | None = None


ON_CPU = DecodedOn()


class DecodePlace:
    """Where one decode of ``path`` runs, found out as it runs (see the module docstring).

    The decoder calls :meth:`open_options` before ``av.open``, :meth:`open_failed` when that open
    fails for the device, :meth:`opened` with the video stream, and :meth:`decoded` after each
    frame; :attr:`result` says where the frames so far were decoded. A fallback, once found, holds
    for the rest of the decode (a decode reopened after a plan mismatch stays on the CPU).
    """

    def __init__(self, path: str | Path, hwaccel: str | None) -> None:
        self.path, self.hwaccel = path, validate_hwaccel(hwaccel)
        self.fallback: str | None = None
        self.confirmed = False  # a frame was seen coming from the device

    @property
    def wants_device(self) -> bool:
        return self.hwaccel is not None and self.fallback is None

    def open_options(self) -> dict[str, Any]:
        """Keyword arguments for ``av.open``: the CUDA HWAccel, or none (the CPU)."""
        if not self.wants_device:
            return {}
        if not cuda_decode_available():
            self.fall_back("no CUDA device, or FFmpeg built without CUDA")
            return {}
        index = self.hwaccel.partition(":")[2] or None
        return {"hwaccel": HWAccel(device_type="cuda", device=index, allow_software_fallback=True)}

    def open_failed(self, cause: BaseException) -> None:
        """The device could not be created (``cause``: PyAV's error): the file is opened again for
        the CPU."""
        detail = getattr(cause, "strerror", None) or " ".join(str(cause).split()) or type(cause).__name__
        self.fall_back(f"the CUDA device could not be created ({detail})")

    def opened(self, codec_context: Any) -> None:
        """The video stream is open: PyAV leaves out the device when the codec has no NVDEC decoder."""
        if self.wants_device and not codec_context.is_hwaccel:
            self.fall_back(f"no NVDEC decoder for {codec_context.name}")

    def decoded(self, codec_context: Any) -> None:
        """A frame came out: its decoder ran on the device only if it chose the device's pixel format."""
        if not self.wants_device or self.confirmed:
            return
        fmt = codec_context.format
        if fmt is not None and fmt.name == HW_PIXEL_FORMAT:
            self.confirmed = True
            return
        profile = f" {codec_context.profile}" if codec_context.profile else ""
        pixels = fmt.name if fmt is not None else "unknown pixel format"
        self.fall_back(f"NVDEC cannot decode this stream ({codec_context.name}{profile}, {pixels})")

    def fall_back(self, reason: str) -> None:
        """Record (and warn once) that this decode runs on the CPU, and why."""
        if self.fallback is not None:
            return
        self.fallback = reason
        message = f"{self.path}: hwaccel={self.hwaccel!r} unavailable ({reason}); decoding on the CPU"
        warnings.warn(CpuFallbackWarning(message), stacklevel=2)

    @property
    def result(self) -> DecodedOn:
        """Where the frames decoded so far were decoded."""
        if self.hwaccel is None:
            return ON_CPU
        if self.fallback is not None:
            return DecodedOn("cpu", self.fallback)
        return DecodedOn("cuda") if self.confirmed else DecodedOn("cpu", "no frame decoded")
