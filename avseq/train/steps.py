"""One optimization step and the per-kind losses, as plain functions.

A batch is a :class:`~avseq.data.collate.SoundBatch`,
:class:`~avseq.data.collate.CaptionBatch`, :class:`~avseq.data.collate.DenseCaptionBatch` or
:class:`~avseq.data.collate.ClassifyBatch`;
its ``video`` holds frames (``FrameBatch``, run through the system's encoder), frames with the
cached features of the encoder's frozen members (``FrameBatchWithCache``) or cached
``Features`` (the encoder is skipped).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from avseq.data.collate import CaptionBatch, ClassifyBatch, DenseCaptionBatch, FrameBatchWithCache, SoundBatch
from avseq.data.datasets import IGNORE_LABEL
from avseq.metrics.audio import onsets_from_log_mel
from avseq.models import caption_loss, sound_loss, word_loss
from avseq.models.grounding import GroundedEncoder
from avseq.models.proposals import proposal_loss, span_features
from avseq.models.rnn import length_mask
from avseq.models.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from avseq.train.diagnostics import layer_grad_norms
from avseq.train.self_critical import CaptionReward, self_critical_loss
from avseq.types import Features, Spectrogram


@dataclass(frozen=True)
class LossOptions:
    """sound: ``onset_weight`` and ``kind`` ("l1" | "mse") of :func:`avseq.models.sound_loss` (its
    ``floor`` is the model's), plus
    ``onset_bce`` times the onset-detection loss of :func:`onset_loss` (needs the model's
    ``onset_head``), labelled by :func:`onset_labels` (``onset_labels="events"``: a clip's
    annotated sound times where it has them); caption: ``label_smoothing`` of
    :func:`avseq.models.caption_loss`, plus
    ``word_bce`` times the bag-of-words loss of :func:`avseq.models.word_loss` (needs ``word_head``);
    with a ``reward``, captions train by self-critical sequence training instead, ``samples``
    sampled captions of at most ``max_len`` tokens per clip (:mod:`avseq.train.self_critical`);
    dense_caption: the caption loss of every event's caption on its span's frames plus
    ``proposal_bce`` times the per-frame start / inside / end loss of
    :func:`avseq.models.proposals.proposal_loss`; classify: the sum of each attribute's
    cross-entropy (with ``label_smoothing``), :func:`classify_loss`, plus ``locator_ce`` times the
    locator's cross-entropy of a trained :class:`~avseq.models.grounding.GroundedEncoder` member
    against the batch's positions, when it has them."""

    onset_weight: float = 0.0
    kind: str = "l1"
    label_smoothing: float = 0.0
    onset_bce: float = 0.0
    onset_labels: str = "audio"
    word_bce: float = 0.0
    reward: CaptionReward | None = None
    samples: int = 5
    max_len: int = 20
    proposal_bce: float = 1.0
    locator_ce: float = 1.0


@dataclass(frozen=True)
class StepStats:
    """What one step did: loss, gradient norm before clipping, whether clipping engaged,
    whether the update was skipped (non-finite gradients), the learning rate used, and the
    per-layer gradient norms before clipping when asked for (``grad_norm/<layer>`` -> norm,
    see :mod:`avseq.train.diagnostics`)."""

    loss: float
    grad_norm: float
    clipped: bool
    skipped: bool
    lr: float
    layer_norms: dict[str, float] = field(default_factory=dict)


def features_of(system: nn.Module, batch: SoundBatch | CaptionBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """(features (B, T, D), lengths (B,)) of the batch: cached, or computed by the encoder."""
    video = batch.video
    if isinstance(video, Features):
        return video.data, video.lengths
    if isinstance(video, FrameBatchWithCache):  # a partly frozen encoder: its frozen members' features
        return system.features(video.frames.data, video.lengths, video.cached), video.lengths
    return system.features(video.data, video.lengths), video.lengths


def batch_loss(system: nn.Module, batch: SoundBatch | CaptionBatch, options: LossOptions) -> torch.Tensor:
    """The training loss of ``batch`` (scalar tensor)."""
    if isinstance(batch, ClassifyBatch):
        return _classify_batch_loss(system, batch, options)
    feats, lengths = features_of(system, batch)
    if isinstance(batch, SoundBatch):
        known = batch.onsets if options.onset_labels == "events" and batch.onsets else None
        return _sound_batch_loss(system, feats, lengths, batch.target, options, known)
    if isinstance(batch, DenseCaptionBatch):
        return _dense_batch_loss(system, feats, lengths, batch, options)
    if options.reward is not None:
        return self_critical_loss(
            system, feats, lengths, batch.references, options.reward, options.samples, options.max_len
        )
    return _caption_batch_loss(system, feats, lengths, batch.tokens, batch.rows, options)


def _classify_batch_loss(system: nn.Module, batch: ClassifyBatch, options: LossOptions) -> torch.Tensor:
    """Attribute cross-entropies; a trained grounded encoder member crops at the batch's true
    positions where it has them, and its locator learns them (``locator_ce``)."""
    grounding = next((m for m in system.encoder.modules() if isinstance(m, GroundedEncoder)), None)
    teach = grounding is not None and grounding.training and batch.positions is not None
    with grounding.supervised(batch.positions) if teach else contextlib.nullcontext() as located:
        feats, lengths = features_of(system, batch)  # cached features (a frozen encoder) teach nothing
    loss = classify_loss(system.attribute_logits(feats, lengths), batch.labels, options.label_smoothing)
    return loss if located is None or located.loss is None else loss + options.locator_ce * located.loss


def _sound_batch_loss(
    system: nn.Module,
    feats: torch.Tensor,
    lengths: torch.Tensor,
    target: Spectrogram,
    options: LossOptions,
    known: Sequence[Sequence[float] | None] | None = None,
) -> torch.Tensor:
    with_onsets = options.onset_bce > 0
    pred, _, *onsets = system.from_features(feats, lengths, target.lengths, with_onsets=with_onsets, raw=True)
    model = system.model
    loss = sound_loss(pred, target.data, target.lengths, options.onset_weight, options.kind, model.floor)
    if with_onsets:
        steps = lengths if model.upsample == "output" else target.lengths  # the RNN's rate
        labels = onset_labels(target, model.onset_rate, onsets[0].shape[1], known)
        loss = loss + options.onset_bce * onset_loss(onsets[0], steps, labels)
    return loss


def _caption_batch_loss(
    system: nn.Module,
    feats: torch.Tensor,
    lengths: torch.Tensor,
    tokens: torch.Tensor,
    rows: torch.Tensor,
    options: LossOptions,
) -> torch.Tensor:
    """Cross-entropy of every token row (a clip may have several: ``rows`` names each one's clip)."""
    with_words = options.word_bce > 0
    out = system.from_features(feats, lengths, tokens[:, :-1], with_words=with_words, rows=rows)
    logits, words = out if with_words else (out, None)
    loss = caption_loss(logits, tokens[:, 1:], label_smoothing=options.label_smoothing)
    if with_words:
        loss = loss + options.word_bce * word_loss(words, tokens, (PAD_ID, BOS_ID, EOS_ID, UNK_ID))
    return loss


def _dense_batch_loss(
    system: nn.Module,
    feats: torch.Tensor,
    lengths: torch.Tensor,
    batch: DenseCaptionBatch,
    options: LossOptions,
) -> torch.Tensor:
    """Proposal loss over every frame plus the caption loss of each event on its own frames."""
    loss = options.proposal_bce * proposal_loss(system.proposal_logits(feats, lengths), lengths, batch.labels)
    if batch.spans.shape[0] == 0:
        return loss
    span_feats, span_lengths = span_features(feats, batch.spans.tolist())
    logits = system.from_features(span_feats, span_lengths.to(feats.device), batch.tokens[:, :-1])
    return loss + caption_loss(logits, batch.tokens[:, 1:], label_smoothing=options.label_smoothing)


def classify_loss(
    logits: dict[str, torch.Tensor], labels: torch.Tensor, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Sum over attributes of the mean cross-entropy of each one's logits (B, C_a) against its
    column of ``labels`` (B, A) (attributes in ``logits``' order); labels of ``IGNORE_LABEL`` are
    skipped, and an attribute with no known label in the batch adds nothing."""
    total = next(iter(logits.values())).new_zeros(())
    for column, attr_logits in zip(labels.unbind(1), logits.values(), strict=True):
        if bool((column != IGNORE_LABEL).any()):
            total = total + nn.functional.cross_entropy(
                attr_logits.float(), column, ignore_index=IGNORE_LABEL, label_smoothing=label_smoothing
            )
    return total


def onset_labels(
    target: Spectrogram, rate: float, steps: int, known: Sequence[Sequence[float] | None] | None = None
) -> torch.Tensor:
    """(B, steps) float: 1 at the step nearest each onset of the target audio, else 0.

    Onsets are picked from each clip's target log-mel (its valid frames) exactly as the
    onset metrics pick them, so the labels need no annotation: any clip with sound has them.
    ``known`` (per clip, None where unknown) replaces a clip's picks with its annotated sound
    times: on level 2 of the synthetic world, 57% of the picks are ambience the video cannot
    show, and the picks find 96% of the hits (40 training clips).
    """
    labels = torch.zeros(target.data.shape[0], steps)
    for i, n in enumerate(target.lengths.tolist()):
        if known is not None and known[i] is not None:
            times = np.asarray(known[i], dtype=np.float64)
        else:
            times = onsets_from_log_mel(target.data[i, :, :n], target.frame_rate)
        idx = torch.as_tensor(np.round(times * rate), dtype=torch.long)
        labels[i, idx[idx < steps]] = 1.0
    return labels.to(target.data.device)


def onset_loss(
    logits: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor, pos_weight: float = 10.0
) -> torch.Tensor:
    """Binary cross-entropy of onset logits (B, T) against labels (B, T) over valid steps.

    Onsets are rare (a few per clip), so positives weigh ``pos_weight`` times more.
    """
    mask = length_mask(lengths.to(logits.device), logits.shape[1])
    weight = torch.tensor(pos_weight, device=logits.device, dtype=logits.dtype)
    return nn.functional.binary_cross_entropy_with_logits(
        logits[mask], labels[mask].to(logits.dtype), pos_weight=weight
    )


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
    layers: dict[str, list[nn.Parameter]] | None = None,
) -> StepStats:
    """Forward, backward, clip, update, schedule. A step with non-finite gradients is skipped
    (weights untouched) but still advances the schedule, so step counts stay aligned.

    forward: computes the loss of the batch (already on ``device``) in place of
    ``batch_loss(system, batch, options)``, e.g. the DistributedDataParallel wrapper of
    :func:`avseq.train.distributed.wrap`, which averages gradients across ranks.
    layers: parameter groups (:func:`avseq.train.diagnostics.layer_groups`) whose gradient
    norms before clipping the stats carry."""
    system.train()
    lr = optimizer.param_groups[0]["lr"]
    optimizer.zero_grad(set_to_none=True)
    with autocast(device, bf16):
        batch = batch.to(device)
        loss = forward(batch) if forward is not None else batch_loss(system, batch, options)
    loss.backward()
    layer_norms = layer_grad_norms(layers) if layers else {}
    params = [p for p in system.parameters() if p.grad is not None]
    norm, clipped = clip_gradients(params, grad_clip)
    skipped = not math.isfinite(norm)
    if skipped:
        optimizer.zero_grad(set_to_none=True)
    else:
        optimizer.step()
    scheduler.step()
    return StepStats(float(loss.detach()), norm, clipped, skipped, lr, layer_norms)


def make_optimizer(
    system: nn.Module,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float],
    encoder_lr_scale: float = 1.0,
) -> torch.optim.AdamW:
    """AdamW; weight decay on matrices and kernels only (not biases, norms or embeddings' padding).

    The frame encoder's parameters learn at ``lr * encoder_lr_scale``; the schedule scales
    every group alike.
    """
    encoder = {id(p) for p in system.encoder.parameters()}
    groups = []
    for in_encoder, scale in ((True, encoder_lr_scale), (False, 1.0)):
        decay, no_decay = [], []
        for name, p in system.named_parameters():
            if p.requires_grad and (id(p) in encoder) == in_encoder:
                (decay if p.dim() >= 2 and "norm" not in name else no_decay).append(p)
        groups += [
            {"params": decay, "weight_decay": weight_decay, "lr": lr * scale},
            {"params": no_decay, "weight_decay": 0.0, "lr": lr * scale},
        ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr, betas=betas)
