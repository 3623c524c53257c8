"""Decoded frame -> ``uint8 (3, H, W)`` RGB tensor, resized and turned upright.

Resizing happens in the same libswscale call as the pixel-format conversion
(PyAV ``reformat``); rotation follows the frame's display matrix. Conversions go
through a kept :class:`~av.video.reformatter.VideoReformatter` with one swscale
thread: PyAV's ``frame.reformat`` builds a new scaler, with a thread pool sized to
the machine, for every frame, which took 7-8 ms per frame here, from 64x64 to
604x340, against 0.005-0.5 ms for the kept one; one thread also makes the pixels
independent of the machine's core count.
"""

from __future__ import annotations

import av
import numpy as np
import torch
from av.video.reformatter import VideoReformatter

from avseq.io.geometry import Cover
from avseq.types import Frames

SizeArg = int | tuple[int, int] | Cover | None


def validate_size(size: SizeArg) -> SizeArg:
    """Check ``size``: None, a positive int (short side), a (H, W) pair of positive ints or a Cover."""
    if size is None or isinstance(size, Cover):
        return size
    if isinstance(size, int) and not isinstance(size, bool):
        if size <= 0:
            raise ValueError(f"Invalid size {size}: the short side must be a positive int")
        return size
    if (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
    ):
        return (int(size[0]), int(size[1]))
    raise ValueError(f"Invalid size {size!r}: expected None, an int (short side) or (H, W) positive ints")


def display_size(width: int, height: int, size: SizeArg) -> tuple[int, int]:
    """(H, W) of the output for a displayed ``width`` x ``height`` frame and a ``size`` argument."""
    if size is None:
        return height, width
    if isinstance(size, tuple):
        return size
    if isinstance(size, Cover):
        return size.output(height, width)
    if height <= width:
        return size, max(1, round(width * size / height))
    return max(1, round(height * size / width)), size


def _upright_geometry(frame: av.VideoFrame, size: SizeArg) -> tuple[int, int, int]:
    """(quarter turns counter-clockwise, coded width, coded height) to reformat ``frame`` to."""
    rotation = int(frame.rotation or 0) % 360
    quarter = rotation // 90 if rotation % 90 == 0 else 0
    disp_w, disp_h = (frame.height, frame.width) if quarter % 2 else (frame.width, frame.height)
    out_h, out_w = display_size(disp_w, disp_h, size)
    coded_w, coded_h = (out_h, out_w) if quarter % 2 else (out_w, out_h)
    return quarter, coded_w, coded_h


def output_shape(frame: av.VideoFrame, size: SizeArg) -> tuple[int, int]:
    """(H, W) of ``frame`` once turned upright and resized to ``size``."""
    quarter, w, h = _upright_geometry(frame, size)
    return (w, h) if quarter % 2 else (h, w)


def write_frame(
    dst: np.ndarray, frame: av.VideoFrame, size: SizeArg = None, reformatter: VideoReformatter | None = None
) -> None:
    """Write ``frame`` as ``uint8 (3, H, W)`` RGB into ``dst``: upright, resized to ``size``.

    libswscale converts straight to planar RGB (``gbrp``) at the output size, and
    the planes are copied into ``dst`` without an HWC -> CHW transposition. Pass the
    same ``reformatter`` for every frame of a stream to reuse its scaler.
    """
    quarter, w, h = _upright_geometry(frame, size)
    reformatter = reformatter if reformatter is not None else VideoReformatter()
    planar = reformatter.reformat(frame, width=w, height=h, format="gbrp", threads=1)
    chw = np.empty((3, h, w), np.uint8) if quarter else dst
    for channel, plane_index in enumerate(_GBRP_TO_RGB):
        plane = planar.planes[plane_index]
        rows = np.frombuffer(plane, np.uint8).reshape(h, plane.line_size)[:, :w]
        np.copyto(chw[channel], rows)
    if quarter:
        np.copyto(dst, np.rot90(chw, k=quarter, axes=(1, 2)))


_GBRP_TO_RGB = (2, 0, 1)  # gbrp stores planes G, B, R
INITIAL_BYTES = 1 << 29  # first buffer at most 512 MiB; it doubles when more frames come


def frame_to_tensor(frame: av.VideoFrame, size: SizeArg = None) -> torch.Tensor:
    """``uint8 (3, H, W)`` RGB of ``frame`` as displayed (rotation applied), resized to ``size``."""
    out = torch.empty((3, *output_shape(frame, size)), dtype=torch.uint8)
    write_frame(out.numpy(), frame, size)
    return out


class FrameStack:
    """Builds ``Frames`` from decoded frames, writing each straight into one preallocated tensor.

    capacity: expected frame count (the buffer starts at most 512 MiB and doubles when full). A
    frame chosen twice in a row (sampling faster than the file) is copied, not converted again.
    """

    def __init__(self, size: SizeArg, capacity: int = 16):
        self.size = size
        self.capacity = max(1, capacity)
        self._buf: torch.Tensor | None = None
        self._pts: list[float] = []
        self._last: av.VideoFrame | None = None
        self._reformatter = VideoReformatter()

    def __len__(self) -> int:
        return len(self._pts)

    def add(self, frame: av.VideoFrame, pts: float) -> None:
        """Append ``frame`` (shown from ``pts`` seconds)."""
        n = len(self._pts)
        if self._buf is None:
            h, w = output_shape(frame, self.size)
            first = min(self.capacity, max(16, INITIAL_BYTES // (3 * h * w)))
            self._buf = torch.empty((first, 3, h, w), dtype=torch.uint8)
        elif n == self._buf.shape[0]:
            self._buf = torch.cat([self._buf, torch.empty_like(self._buf)])
        if frame is self._last:
            self._buf[n] = self._buf[n - 1]
        else:
            write_frame(self._buf[n].numpy(), frame, self.size, self._reformatter)
            self._last = frame
        self._pts.append(pts)

    def frames(self) -> Frames:
        """The frames so far: data ``uint8 (T, 3, H, W)``, pts ``(T,)`` seconds."""
        n = len(self._pts)
        pts = torch.tensor(self._pts, dtype=torch.float64)
        if self._buf is None:
            h, w = self.size if isinstance(self.size, tuple) else (0, 0)
            return Frames(torch.zeros((0, 3, h, w), dtype=torch.uint8), pts)
        data = self._buf[:n]
        return Frames(data.clone() if n < self._buf.shape[0] // 2 else data, pts)
