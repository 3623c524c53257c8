"""The steps at which a run changes what it trains.

- ``train.freeze_encoder_at``: the frame encoder stops learning. Its BatchNorm
  statistics are recomputed one last time and fixed, every training clip's features
  are computed once into the feature cache, and later steps read them instead of
  running the CNN, so they cost a fraction of a full step. Captions: each clip is then
  taught ``train.captions_per_clip_frozen`` of its captions per step.
- ``loss.self_critical_from``: captions switch from cross-entropy to self-critical
  sequence training (:mod:`avseq.train.self_critical`).

The loop runs in stretches that end at these steps (:func:`next_change`) and calls
:func:`enter` before each stretch; ``enter`` applies every change due by then, so a
run resumed past a change is put back in the state an uninterrupted run is in.
"""

from __future__ import annotations

import dataclasses

from avseq.data.feature_cache import CachedFeatureDataset
from avseq.train import data as tdata
from avseq.train import distributed
from avseq.train.batchnorm import recompute_batchnorm
from avseq.train.config import CLIP_CAPTION_KINDS, TrainConfig
from avseq.train.run import Run
from avseq.train.self_critical import CaptionReward


def change_steps(cfg: TrainConfig) -> list[int]:
    """The steps at which the run changes, in order."""
    steps = {cfg.train.freeze_encoder_at, cfg.loss.self_critical_from}
    return sorted(s for s in steps if s is not None)


def next_change(cfg: TrainConfig, step: int) -> int | None:
    """The first change after ``step`` (None when no change is left)."""
    return next((s for s in change_steps(cfg) if s > step), None)


def enter(run: Run, step: int) -> bool:
    """Apply the changes due at or before ``step`` that ``run`` has not made yet; True if any."""
    changed = False
    freeze_at = run.cfg.train.freeze_encoder_at
    if freeze_at is not None and step >= freeze_at and not getattr(run.system.encoder, "frozen", False):
        freeze_encoder(run)
        changed = True
    critical_from = run.cfg.loss.self_critical_from
    if critical_from is not None and step >= critical_from and run.loss.reward is None:
        start_self_critical(run)
        changed = True
    return changed


def freeze_encoder(run: Run) -> None:
    """Fix the encoder (BatchNorm recomputed first) and make the training set read cached features."""
    t = run.cfg.train
    recompute_batchnorm(
        run.system, run.train_set, run.cfg.kind,
        batches=t.bn_batches, batch_size=t.batch_size, device=run.device,
    )  # fmt: skip
    run.system.encoder.freeze()
    run.cache = tdata.feature_cache(run.cfg, run.run_dir, run.system, run.prep, run.device)
    run.train_set = CachedFeatureDataset(run.train_set, run.cache)
    with distributed.main_first():  # rank 0 fills the cache once
        run.train_set.precompute(progress=t.progress)
    if run.cfg.kind in CLIP_CAPTION_KINDS:
        run.train_set.set_captions_per_clip(run.cfg.captions_per_clip(frozen=True))


def start_self_critical(run: Run) -> None:
    """Switch the caption loss to self-critical training, rewarded by CIDEr-D whose document
    frequencies come from the training captions."""
    reward = CaptionReward([e.captions for e in run.train_set.entries], run.tokenizer)
    run.loss = dataclasses.replace(
        run.loss,
        reward=reward,
        samples=run.cfg.loss.self_critical_samples,
        max_len=run.cfg.train.max_caption_len,
    )
