"""Learning-rate schedule: linear warmup, then cosine or linear decay (or constant).

The schedule is a pure function of the step, so a resumed run only needs the
step to be back on the same curve; :func:`build_scheduler` wraps it in a
``LambdaLR`` whose ``state_dict`` holds nothing but plain numbers.
"""

from __future__ import annotations

import math
from typing import Literal

import torch

Decay = Literal["cosine", "linear", "constant"]
DECAYS = ("cosine", "linear", "constant")


def lr_factor(step: int, total_steps: int, warmup_steps: int, decay: Decay, min_factor: float = 0.0) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based).

    Warmup ramps linearly from ``1 / (warmup_steps + 1)`` to 1 over ``warmup_steps``
    steps; afterwards ``decay`` goes from 1 to ``min_factor`` at ``total_steps``.
    """
    if decay not in DECAYS:
        raise ValueError(f"Invalid decay {decay!r}. Supported: {', '.join(DECAYS)}")
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    if decay == "constant":
        return 1.0
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    if decay == "linear":
        shape = 1.0 - progress
    else:
        shape = 0.5 * (1.0 + math.cos(math.pi * progress))
    return min_factor + (1.0 - min_factor) * shape


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    total_steps: int,
    warmup_steps: int,
    decay: Decay = "cosine",
    min_factor: float = 0.0,
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` following :func:`lr_factor`; call ``.step()`` once per optimizer step."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup_steps, decay, min_factor)
    )
