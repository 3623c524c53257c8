"""The record of one training run: what :func:`avseq.train.loop.setup` builds and every step,
phase change (:mod:`avseq.train.phases`) and checkpoint works with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from avseq.bundles import Preprocessing
from avseq.models import Tokenizer
from avseq.train.config import TrainConfig
from avseq.train.steps import LossOptions


@dataclass
class Run:
    """Everything one training run works with (a record, not a trainer)."""

    cfg: TrainConfig
    run_dir: Path
    device: torch.device
    prep: Preprocessing
    tokenizer: Tokenizer | None
    system: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    train_set: Any
    val_set: Any
    splits: dict[str, str]
    cache: Any = None  # avseq.data.feature_cache.FeatureCache when the encoder is frozen
    loss: LossOptions = field(default_factory=LossOptions)
    forward: Callable | None = None  # the DDP-wrapped loss under torchrun (avseq.train.distributed)
