"""The model stages' precision: the pipeline's ``precision:`` -> an autocast dtype per stage.

``fp32`` runs everything in float32 (no autocast). ``bf16`` / ``fp16`` run the stage types that
declare ``autocast=True`` (the frame encoders, the sound model, the captioner: convolutions,
matrix products and LSTMs) under ``torch.autocast`` with that dtype, on any device (CPU autocast
supports both). ``auto`` picks bf16 on a GPU that computes it natively (compute capability 8.0
and later), fp16 on older GPUs and float32 on the CPU, where autocast rarely pays.

Autocast keeps reductions, softmax and losses in float32, and the stages hand float32 values on
(features and log-mels are cast back), so the vocoder and the sinks never see a half dtype.
Tolerance against fp32 is tested in ``tests/pipeline/test_device_fit.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

BF16_CAPABILITY = (8, 0)  # Ampere: the first GPUs with bf16 tensor cores
NAMES = {"bf16": "bfloat16", "fp16": "float16"}


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for a model stage on ``device`` under ``precision``; None: float32."""
    import torch

    if precision == "fp32":
        return None
    if precision == "auto":
        if device.type != "cuda":
            return None
        native_bf16 = torch.cuda.get_device_capability(device) >= BF16_CAPABILITY
        return torch.bfloat16 if native_bf16 else torch.float16
    return getattr(torch, NAMES[precision])


def precision_name(dtype: torch.dtype | None) -> str:
    """``fp32``, ``bf16`` or ``fp16`` for an autocast dtype (None: fp32)."""
    if dtype is None:
        return "fp32"
    return next(k for k, v in NAMES.items() if str(dtype) == f"torch.{v}")


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """``torch.autocast`` on ``device`` with ``dtype``; nothing for None (float32)."""
    if dtype is None:
        yield
        return
    import torch

    with torch.autocast(device.type, dtype=dtype):
        yield
