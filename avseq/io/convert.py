"""Decoded frame -> ``uint8 (3, H, W)`` RGB tensor, resized and turned upright.

Resizing happens in the same libswscale call as the pixel-format conversion
(PyAV ``reformat``); rotation follows the frame's display matrix.
"""

from __future__ import annotations

import av
import numpy as np
import torch

SizeArg = int | tuple[int, int] | None


def validate_size(size: SizeArg) -> SizeArg:
    """Check ``size``: None, a positive int (short side) or a (H, W) pair of positive ints."""
    if size is None:
        return None
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
    if height <= width:
        return size, max(1, round(width * size / height))
    return max(1, round(height * size / width)), size


def frame_to_tensor(frame: av.VideoFrame, size: SizeArg = None) -> torch.Tensor:
    """``uint8 (3, H, W)`` RGB of ``frame`` as displayed (rotation applied), resized to ``size``."""
    rotation = int(frame.rotation or 0) % 360
    quarter = rotation // 90 if rotation % 90 == 0 else 0
    disp_w, disp_h = (frame.height, frame.width) if quarter % 2 else (frame.width, frame.height)
    out_h, out_w = display_size(disp_w, disp_h, size)
    coded_w, coded_h = (out_h, out_w) if quarter % 2 else (out_w, out_h)
    if (coded_w, coded_h) == (frame.width, frame.height):
        rgb = frame.to_ndarray(format="rgb24")
    else:
        rgb = frame.reformat(width=coded_w, height=coded_h, format="rgb24").to_ndarray()
    if quarter:
        rgb = np.rot90(rgb, k=quarter, axes=(0, 1))
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)
