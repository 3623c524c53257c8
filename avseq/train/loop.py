"""The training loop as plain functions: set up a run, step, validate, checkpoint, resume.

``train(cfg)`` is the whole job; every piece it calls (``setup``, ``train_step``,
``validate``, ``save_checkpoint``, ``restore``) is usable alone. A run folder holds
``config.yaml``, ``log.csv`` (with the gradient and gate diagnostics of
:mod:`avseq.train.diagnostics`), ``curves.png``, ``summary.json``, ``checkpoints/`` and
the ``last`` / ``best`` links (see :mod:`avseq.train.checkpoints`).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from avseq.bundles import Preprocessing, save_bundle
from avseq.bundles import resolve as resolve_bundle
from avseq.bundles.document import WEIGHTS
from avseq.data.datasets import attribute_classes
from avseq.devices import resolve_device
from avseq.errors import BundleError, ConfigError
from avseq.io.atomic import write_text_atomic
from avseq.models import Tokenizer, build_system
from avseq.models.systems import encoder_configs
from avseq.train import checkpoints as ckpt
from avseq.train import compiling, diagnostics, distributed, phases
from avseq.train import data as tdata
from avseq.train.batchnorm import recompute_batchnorm
from avseq.train.card import write_run_cards
from avseq.train.config import CLIP_CAPTION_KINDS, TrainConfig, TrainLoopConfig, config_to_yaml
from avseq.train.logs import CsvLog, plot_curves
from avseq.train.run import Run
from avseq.train.schedule import build_scheduler
from avseq.train.state import load_training_state, save_training_state
from avseq.train.steps import LossOptions, StepStats, make_optimizer, train_step
from avseq.train.validation import is_better, validate


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def system_config(
    cfg: TrainConfig,
    prep: Preprocessing,
    tokenizer: Tokenizer | None,
    classes: dict[str, list[str]] | None = None,
) -> dict:
    """``cfg.system`` with the values that must agree with the data filled in (or checked):
    caption, frame_caption and dense_caption ``model.vocab_size``; classify ``model.attributes``
    (``classes``: attribute -> the class names the training clips give it, so the bundle carries
    them); sound ``model.n_mels``, ``video_fps`` and ``mel_frame_rate``."""
    system = copy.deepcopy(cfg.system)
    model = system.setdefault("model", {})
    if cfg.kind in (*CLIP_CAPTION_KINDS, "dense_caption"):
        implied = {"vocab_size": len(tokenizer)}
    elif cfg.kind == "classify":
        implied = {"attributes": classes}
    else:
        recipe = prep.recipe
        if recipe is None or prep.fps is None:
            raise ConfigError(f"{cfg.source}: a sound model needs preprocessing.mel and preprocessing.fps")
        implied = {"n_mels": recipe.n_mels, "video_fps": prep.fps, "mel_frame_rate": recipe.frame_rate}
    for key, value in implied.items():
        if key in model and model[key] != value:
            raise ConfigError(
                f"{cfg.source}: system.model.{key} is {model[key]!r} but the data implies {value!r}"
            )
        model[key] = value
    return system


def encoder_from_bundle(config: dict) -> dict:
    """``config`` with an ``encoder.weights`` that names a bundle (bundled name or folder) replaced
    by that bundle's weights file, so training starts from the bundle's trained frame encoder
    (e.g. the synth-sound encoder, which learned to see impacts from the clips' own audio)."""
    members = [_bundle_weights(e) for e in encoder_configs(config["encoder"])]
    return {**config, "encoder": members if isinstance(config["encoder"], list) else members[0]}


def _bundle_weights(encoder: dict) -> dict:
    weights = encoder.get("weights")
    if not isinstance(weights, str):
        return encoder
    try:
        folder = resolve_bundle(weights)
    except BundleError:
        return encoder  # a weights file or a torchvision weights name: build_encoder reads it
    return {**encoder, "weights": str(folder / WEIGHTS)}


LOSS_CONFIG_ONLY = {"min_word_count", "self_critical_from", "self_critical_samples"}  # not LossOptions


def setup(cfg: TrainConfig, run_dir: Path) -> Run:
    """Prepare data, build the system, optimizer and schedule (seeded by ``train.seed``);
    with ``train.compile``, the system's training forward is compiled (:mod:`avseq.train.compiling`)."""
    seed_everything(cfg.train.seed)
    if cfg.train.threads is not None:
        torch.set_num_threads(cfg.train.threads)
    device = distributed.rank_device(resolve_device(cfg.train.device, "train.device"))
    if cfg.train.compile:  # refused now rather than after the data is prepared
        compiling.check_backend(cfg.train.compile_backend, device)
    prep = tdata.preprocessing(cfg)
    manifests = tdata.split_manifests(cfg, run_dir, progress=cfg.train.progress)
    train_entries = tdata.load_entries(manifests[cfg.data.train_split], cfg.data.train_split)
    val_entries = tdata.load_entries(manifests[cfg.data.val_split], cfg.data.val_split, cfg.data.val_clips)
    tokenizer, classes = None, None
    if cfg.kind in (*CLIP_CAPTION_KINDS, "dense_caption"):
        events = cfg.kind == "dense_caption"
        tokenizer = tdata.build_tokenizer(train_entries, cfg.loss.min_word_count, events=events)
    if cfg.kind == "classify":
        classes = attribute_classes(train_entries, cfg.attributes)
    config = system_config(cfg, prep, tokenizer, classes)
    system = build_system(encoder_from_bundle(config)).to(device)
    system.config = config  # records the bundle's name, not a path on this machine
    if cfg.train.compile:
        compiling.compile_for_training(system, cfg.train.compile_backend)
    frozen = getattr(system.encoder, "frozen", False)
    cache, part = None, getattr(system.encoder, "partly_frozen", False)
    if cfg.data.cache_features and (frozen or part):
        cache = tdata.feature_cache(cfg, run_dir, system, prep, device, part)
    make = lambda entries, train: tdata.make_dataset(  # noqa: E731
        cfg.kind,
        entries,
        prep,
        tokenizer,
        seed=cfg.train.seed,
        train=train,
        cache=cache,
        in_memory=cfg.data.in_memory,
        captions_per_clip=cfg.captions_per_clip(frozen=frozen),
        keep_frames=part,
        classes=classes,
        mirror=cfg.data.mirror,
        mirror_words=cfg.data.mirror_words,
    )
    train_set, val_set = make(train_entries, True), make(val_entries, False)
    if cache is not None:  # encode every clip here, so loader workers only read files (no CUDA in forks)
        for dataset in (train_set, val_set):
            dataset.precompute(progress=cfg.train.progress)
    if cfg.kind == "sound":  # a resumed run restores the trained weights over this
        model = system.model
        model.init_level(*(t.to(device) for t in tdata.target_levels(train_set, model.floor)))
    o = cfg.optim
    optimizer = make_optimizer(system, o.lr, o.weight_decay, o.betas, o.encoder_lr_scale)
    scheduler = build_scheduler(optimizer, cfg.train.steps, o.warmup_steps, o.decay, o.min_lr_ratio)
    loss = LossOptions(**cfg.loss.model_dump(exclude=LOSS_CONFIG_ONLY))
    splits = {
        cfg.data.train_split: str(manifests[cfg.data.train_split]),
        cfg.data.val_split: str(manifests[cfg.data.val_split]),
    }
    return Run(
        cfg, run_dir, device, prep, tokenizer, system, optimizer, scheduler,
        train_set, val_set, splits, cache, loss,
    )  # fmt: skip


def bundle_meta(run: Run, step: int, metrics: dict[str, float]) -> dict[str, Any]:
    """What a checkpoint's bundle records about its training."""
    return {
        "task": run.cfg.kind,
        "step": step,
        "seed": run.cfg.train.seed,
        "splits": run.splits,
        # where the run keeps its encoders' features of the training clips: `avseq eval` reads them
        # from there when it evaluates against the same training manifest
        "feature_cache": str((tdata.data_root(run.cfg, run.run_dir) / tdata.FEATURE_CACHE).resolve()),
        "val": metrics,
        "train_config": json.loads(json.dumps(run.cfg.model_dump(mode="json", exclude={"source"}))),
    }


def save_checkpoint(run: Run, step: int, metrics: dict[str, float], extra: dict, best: bool) -> Path:
    """Write bundle + training state for ``step`` and point ``last`` (and ``best``) at it."""

    def write(folder: Path) -> None:
        save_bundle(
            folder / ckpt.BUNDLE, run.system, run.prep, tokenizer=run.tokenizer,
            meta=bundle_meta(run, step, metrics), name=run.run_dir.name,
        )  # fmt: skip
        save_training_state(folder, run.system, run.optimizer, run.scheduler, step, extra)

    folder = ckpt.write_checkpoint(run.run_dir, step, write)
    ckpt.point(run.run_dir, "last", folder)
    if best:
        ckpt.point(run.run_dir, "best", folder)
    ckpt.prune(run.run_dir)
    return folder


def restore(run: Run) -> tuple[int, dict]:
    """Load the ``last`` checkpoint of the run folder into ``run``; (0, {}) when there is none."""
    folder = ckpt.resolve(run.run_dir, "last")
    if folder is None:
        return 0, {}
    return load_training_state(folder, run.system, run.optimizer, run.scheduler)


@dataclass(frozen=True)
class TrainResult:
    """Where a run ended: its folder, last step, best step and metric, last validation."""

    run_dir: Path
    step: int
    best_step: int | None
    best_value: float | None
    metric: str
    last_val: dict[str, float]
    seconds: float


def run_validation(run: Run) -> dict[str, float]:
    t = run.cfg.train
    recompute_batchnorm(
        run.system,
        run.train_set,
        run.cfg.kind,
        batches=t.bn_batches,
        batch_size=t.batch_size,
        device=run.device,
    )
    fps = run.prep.fps or 15.0
    return validate(
        run.system, run.val_set, run.cfg.kind, batch_size=t.batch_size, device=run.device, bf16=t.bf16,
        options=dataclasses.replace(run.loss, reward=None),  # val_loss: cross-entropy in every phase
        tokenizer=run.tokenizer, beam_size=t.beam_size, max_len=t.max_caption_len,
        rerank=t.rerank, tolerance=1.0 / fps,
    )  # fmt: skip


def _val_columns(cfg: TrainConfig) -> list[str]:
    kind = cfg.kind
    if kind in CLIP_CAPTION_KINDS:
        return ["val_loss", "BLEU-4", "CIDEr", "attr_acc"]
    if kind == "classify":
        return ["val_loss", "attr_acc", *(f"acc/{a}" for a in cfg.attributes)]
    if kind == "dense_caption":
        return ["val_loss", "event_precision", "event_recall", "event_f1", "CIDEr"]
    return ["val_loss", "onset_precision", "onset_recall", "onset_f1"]


def _train_row(step: int, epoch: int, stats: StepStats, rate: float, clip_frac: float) -> dict[str, Any]:
    return {
        "step": step, "epoch": epoch, "loss": stats.loss, "lr": stats.lr,
        "grad_norm": stats.grad_norm, "clipped": int(stats.clipped), "clip_frac": clip_frac, "rate": rate,
        **stats.layer_norms,
    }  # fmt: skip


def _row_due(t: TrainLoopConfig, step: int, end: int, diag: diagnostics.Diagnostics) -> bool:
    """Whether ``step`` writes a log row: logging, validation or a gate probe is due, or the run ends."""
    return (
        step % t.log_every == 0
        or step == end
        or step % t.val_every == 0
        or step == t.steps
        or diag.probe_due(step)
    )


def sample_batch(run: Run):
    """The first validation batch: the fixed sample on which :mod:`avseq.train.diagnostics`
    measures gate saturation (the validation set keeps its form through every phase)."""
    pad = run.tokenizer.pad_id if run.tokenizer else 0
    first = tdata.eval_batches(len(run.val_set), run.cfg.train.batch_size)[0]
    return tdata.collate_fn(run.cfg.kind, pad)([run.val_set[i] for i in first])


def train(
    cfg: TrainConfig, run_dir: str | Path | None = None, resume: bool = False, stop_at: int | None = None
) -> TrainResult:
    """Train per ``cfg`` into ``run_dir`` (default ``cfg.output_dir``).

    resume: continue from the folder's ``last`` checkpoint (model, optimizer, schedule,
    RNG and step restored exactly). stop_at: stop after this step, with a checkpoint,
    although the schedule still spans ``train.steps`` (a later ``resume`` finishes it).
    Under torchrun every rank calls this and trains with DDP (:mod:`avseq.train.distributed`);
    rank 0 alone logs and writes the run folder.
    """
    threads = torch.get_num_threads()  # train.threads applies to this run only
    try:
        with distributed.process_group(resolve_device(cfg.train.device, "train.device")):
            return _train(distributed.quiet(cfg), run_dir, resume, stop_at)
    finally:
        torch.set_num_threads(threads)


def _train(cfg: TrainConfig, run_dir: str | Path | None, resume: bool, stop_at: int | None) -> TrainResult:
    started = time.perf_counter()
    run_dir = Path(run_dir or cfg.output_dir)
    if not resume and ckpt.resolve(run_dir, "last") is not None:
        raise ConfigError(
            f"{run_dir}: already holds a run; pass --resume to continue it or choose another -o"
        )
    distributed.check_batch_size(cfg.train.batch_size)
    main = distributed.is_main()
    run_dir.mkdir(parents=True, exist_ok=True)
    if main:
        write_text_atomic(run_dir / "config.yaml", config_to_yaml(cfg))
    with distributed.main_first():  # rank 0 generates data and fills caches once
        run = setup(cfg, run_dir)
    step, extra = restore(run) if resume else (0, {})
    run.forward = distributed.wrap(run.system, run.loss, run.device)
    resume_step = step if resume else None
    diag = diagnostics.plan(run.system, cfg.train.grad_norms_per_layer, cfg.train.saturation_every)
    columns = _val_columns(cfg) + diag.columns
    log = CsvLog(run_dir, columns, resume_step) if main else distributed.NullLog()
    end = min(cfg.train.steps, stop_at if stop_at is not None else cfg.train.steps)
    last_val: dict[str, float] = extra.get("last_val", {})
    try:
        step, last_val = _loop(run, log, diag, (step, end), extra, last_val)
    finally:
        log.close()
    distributed.sync_buffers(run.system)  # ranks agree on BatchNorm statistics too
    ranks = distributed.describe_ranks(run.system)
    result = TrainResult(
        run_dir, step, extra.get("best_step"), extra.get("best_value"), cfg.val_metric, last_val,
        time.perf_counter() - started,
    )  # fmt: skip
    if main:
        plot_curves(run_dir, _val_columns(cfg))
        write_text_atomic(run_dir / "summary.json", json.dumps({**_summary(result, run), **ranks}, indent=1))
        if cfg.train.card:  # after the summary, whose feature-cache figures are the training's own
            bundles = [ckpt.resolve(run_dir, name) for name in ("best", "last")]
            write_run_cards(run, [b / ckpt.BUNDLE for b in bundles if b is not None], result.best_step)
    return result


def _loop(
    run: Run, log: CsvLog, diag: diagnostics.Diagnostics, span: tuple[int, int], extra: dict, last_val: dict
) -> tuple[int, dict]:
    """Train from step ``span[0]`` to ``span[1]``; returns the last step and validation."""
    t = run.cfg.train
    step, end = span
    clipped = [0, 0]  # steps clipped, steps taken since the last row
    sample = None  # the batch gate saturation is measured on, made on first use
    n, spe = len(run.train_set), tdata.steps_per_epoch(len(run.train_set), t.batch_size)
    bar = tqdm(
        total=t.steps, initial=step, desc="train", file=sys.stderr, disable=not t.progress, unit="step"
    )
    saved_at = step if step else None
    with bar:
        while step < end:
            if phases.enter(run, step):  # the encoder froze or the loss changed: DDP wraps anew
                run.forward = distributed.wrap(run.system, run.loss, run.device)
            stop = min(end, phases.next_change(run.cfg, step) or end)
            epoch, skip = divmod(step, spe)
            if hasattr(run.train_set, "set_epoch"):
                run.train_set.set_epoch(epoch)
            batches = tdata.epoch_plan(n, t.batch_size, t.seed, epoch).batches[skip:][: stop - step]
            batches = distributed.shard_batches(batches)  # this rank's slice of each batch
            pad = run.tokenizer.pad_id if run.tokenizer else 0
            tick = time.perf_counter()
            for batch in tdata.loader(
                run.train_set, batches, run.cfg.kind, t.num_workers, t.seed + epoch, pad
            ):
                distributed.seed_step(t.seed, step)  # per-rank RNG under torchrun; no-op otherwise
                logged = _row_due(t, step + 1, end, diag)
                stats = train_step(
                    run.system, batch, run.optimizer, run.scheduler, options=run.loss,
                    grad_clip=run.cfg.optim.grad_clip, device=run.device, bf16=t.bf16, forward=run.forward,
                    layers=diag.groups if logged else None,
                )  # fmt: skip
                step += 1
                clipped = [clipped[0] + int(stats.clipped), clipped[1] + 1]
                now = time.perf_counter()
                rate, tick = len(batch.ids) / max(now - tick, 1e-9), now
                stats, rate = distributed.reduce_step(stats, rate)
                bar.update()
                bar.set_postfix(
                    loss=f"{stats.loss:.4f}", gnorm=f"{stats.grad_norm:.2f}", clips_s=f"{rate:.1f}"
                )
                row = {}
                if logged:
                    row, clipped = _train_row(step, epoch, stats, rate, clipped[0] / clipped[1]), [0, 0]
                    if diag.probe_due(step) and distributed.is_main():
                        sample = sample_batch(run).to(run.device) if sample is None else sample
                        sample = diagnostics.fixed_features(run.system, sample)  # once frozen
                        row.update(diagnostics.gate_saturation(run.system, sample, run.loss, run.device))
                if step % t.val_every == 0 or step == t.steps:
                    if distributed.is_main():  # the other ranks wait at the barrier
                        last_val = run_validation(run)
                        row.update(last_val)
                        _checkpoint(run, step, last_val, extra)
                        bar.write(f"step {step}: " + ", ".join(f"{k}={v:.4g}" for k, v in last_val.items()))
                    saved_at = step
                    distributed.barrier()
                if row:
                    log.write(row)
    if saved_at != step:
        if distributed.is_main():
            _checkpoint(run, step, last_val, extra, validated=False)
        distributed.barrier()
    return step, last_val


def _checkpoint(run: Run, step: int, metrics: dict, extra: dict, validated: bool = True) -> None:
    metric = run.cfg.val_metric
    value = metrics.get(metric) if validated else None
    best = value is not None and math.isfinite(value) and is_better(metric, value, extra.get("best_value"))
    if best:
        extra.update(best_value=value, best_step=step)
    extra["last_val"] = metrics
    save_checkpoint(run, step, metrics, extra, best)


def _summary(result: TrainResult, run: Run) -> dict[str, Any]:
    return {
        "task": run.cfg.kind,
        "steps": result.step,
        "metric": result.metric,
        "best_step": result.best_step,
        "best_value": result.best_value,
        "last_val": result.last_val,
        "seconds": round(result.seconds, 2),
        "device": str(run.device),
        "train_clips": len(run.train_set),
        "val_clips": len(run.val_set),
        "parameters": sum(p.numel() for p in run.system.parameters()),
        "feature_cache": None if run.cache is None else vars(run.cache.stats),
    }
