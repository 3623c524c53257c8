"""One optimization step and the per-kind losses, as plain functions.

A batch is a :class:`~avseq.data.collate.SoundBatch` or
:class:`~avseq.data.collate.CaptionBatch`; its ``video`` holds frames
(``FrameBatch``, run through the system's encoder) or cached ``Features``
(the encoder is skipped).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from avseq.data.collate import CaptionBatch, SoundBatch
from avseq.models import caption_loss, sound_loss
from avseq.types import Features


@dataclass(frozen=True)
class LossOptions:
    """sound: ``onset_weight`` and ``kind`` ("l1" | "mse") of :func:`avseq.models.sound_loss`;
    caption: ``label_smoothing`` of :func:`avseq.models.caption_loss`."""

    onset_weight: float = 0.0
    kind: str = "l1"
    label_smoothing: float = 0.0


@dataclass(frozen=True)
class StepStats:
    """What one step did: loss, gradient norm before clipping, whether clipping engaged,
    whether the update was skipped (non-finite gradients) and the learning rate used."""

    loss: float
    grad_norm: float
    clipped: bool
    skipped: bool
    lr: float


def features_of(system: nn.Module, batch: SoundBatch | CaptionBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """(features (B, T, D), lengths (B,)) of the batch: cached, or computed by the encoder."""
    video = batch.video
    if isinstance(video, Features):
        return video.data, video.lengths
    return system.features(video.data, video.lengths), video.lengths


def batch_loss(system: nn.Module, batch: SoundBatch | CaptionBatch, options: LossOptions) -> torch.Tensor:
    """The training loss of ``batch`` (scalar tensor)."""
    feats, lengths = features_of(system, batch)
    if isinstance(batch, SoundBatch):
        target = batch.target
        pred, _ = system.from_features(feats, lengths, target.lengths)
        return sound_loss(pred, target.data, target.lengths, options.onset_weight, options.kind)
    tokens = batch.tokens
    logits = system.from_features(feats, lengths, tokens[:, :-1])
    return caption_loss(logits, tokens[:, 1:], label_smoothing=options.label_smoothing)


def autocast(device: torch.device, bf16: bool):
    """bf16 autocast on CUDA when asked; a no-op context elsewhere (CPU runs in float32)."""
    if bf16 and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def clip_gradients(params: list[nn.Parameter], max_norm: float | None) -> tuple[float, bool]:
    """Clip the total gradient norm to ``max_norm`` (None = measure only); return (pre-clip norm, clipped)."""
    limit = float("inf") if max_norm is None else max_norm
    norm = float(torch.nn.utils.clip_grad_norm_(params, limit))
    return norm, max_norm is not None and norm > max_norm


def train_step(
    system: nn.Module,
    batch: SoundBatch | CaptionBatch,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    *,
    options: LossOptions = LossOptions(),
    grad_clip: float | None = 1.0,
    device: torch.device = torch.device("cpu"),
    bf16: bool = False,
    forward: Callable[[SoundBatch | CaptionBatch], torch.Tensor] | None = None,
) -> StepStats:
    """Forward, backward, clip, update, schedule. A step with non-finite gradients is skipped
    (weights untouched) but still advances the schedule, so step counts stay aligned.

    forward: computes the loss of the batch (already on ``device``) in place of
    ``batch_loss(system, batch, options)``, e.g. the DistributedDataParallel wrapper of
    :func:`avseq.train.distributed.wrap`, which averages gradients across ranks."""
    system.train()
    lr = optimizer.param_groups[0]["lr"]
    optimizer.zero_grad(set_to_none=True)
    with autocast(device, bf16):
        batch = batch.to(device)
        loss = forward(batch) if forward is not None else batch_loss(system, batch, options)
    loss.backward()
    params = [p for p in system.parameters() if p.grad is not None]
    norm, clipped = clip_gradients(params, grad_clip)
    skipped = not math.isfinite(norm)
    if skipped:
        optimizer.zero_grad(set_to_none=True)
    else:
        optimizer.step()
    scheduler.step()
    return StepStats(float(loss.detach()), norm, clipped, skipped, lr)


def make_optimizer(
    system: nn.Module, lr: float, weight_decay: float, betas: tuple[float, float]
) -> torch.optim.AdamW:
    """AdamW; weight decay on matrices and kernels only (not biases, norms or embeddings' padding)."""
    decay, no_decay = [], []
    for name, p in system.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.dim() >= 2 and "norm" not in name else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)
