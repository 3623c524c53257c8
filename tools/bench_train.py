"""Seconds a training config spends in each phase, projected from a few timed steps of each.

A run's phases (``avseq/train/phases.py``): steps with the frame encoder training, steps on
frozen features, self-critical steps. Each is timed over ``--steps`` batches of the config's
own training data (after one warm-up step; decoding excluded, as a run's later epochs read
clips from memory or the feature cache), and projected over the config's step counts.
``--reference-set`` times the same config with other overrides in the same run, so the
ratio holds on a machine whose speed drifts. Validation, the first epoch's decoding and
the feature caching at the freeze are not included: compare projections, not run times.

Run: ``.venv/bin/python tools/bench_train.py configs/caption_synth.yaml [--set k=v ...]
[--reference-set k=v ...] [--steps 10]``. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from avseq.train import data as tdata
from avseq.train import phases
from avseq.train.config import load_config
from avseq.train.loop import setup
from avseq.train.steps import features_of, train_step
from avseq.types import Features


def step(run, batch):
    """One training step of ``run`` on ``batch``, with the run's loss, clipping and precision; its stats."""
    cfg = run.cfg
    return train_step(
        run.system, batch, run.optimizer, run.scheduler, options=run.loss,
        grad_clip=cfg.optim.grad_clip, device=run.device, bf16=cfg.train.bf16,
    )  # fmt: skip


def timed_steps(run, batches) -> float:
    """Mean seconds of a training step over ``batches`` after a warm-up step on the first."""
    step(run, batches[0])
    start = time.perf_counter()
    for batch in batches:
        step(run, batch)
    return (time.perf_counter() - start) / len(batches)


def batches_of(run, count: int, offset: int) -> list:
    """``count`` training batches as a run draws them, from batch ``offset`` of its plan on."""
    t = run.cfg.train
    plan, epoch = [], 0
    while len(plan) < offset + count:
        plan += tdata.epoch_plan(len(run.train_set), t.batch_size, t.seed, epoch).batches
        epoch += 1
    pad = run.tokenizer.pad_id if run.tokenizer else 0
    return list(tdata.loader(run.train_set, plan[offset : offset + count], run.cfg.kind, 0, t.seed, pad))


def with_features(run, batches: list) -> list:
    """The batches with their frames replaced by the (frozen) encoder's features."""
    out = []
    with torch.no_grad():
        for batch in batches:
            feats, lengths = features_of(run.system, batch.to(run.device))
            out.append(dataclasses.replace(batch, video=Features(feats, lengths)))
    return out


def project(config: str, overrides: list[str], steps: int) -> dict:
    """Per-phase seconds per step and projected seconds of ``config`` with ``overrides``."""
    cfg = load_config(config, overrides)
    with tempfile.TemporaryDirectory() as tmp:
        run = setup(cfg, Path(tmp))
        t = cfg.train
        freeze = t.freeze_encoder_at if t.freeze_encoder_at is not None else t.steps
        critical = cfg.loss.self_critical_from if cfg.loss.self_critical_from is not None else t.steps
        spans = {
            "encoder_training": (0, min(freeze, critical)),
            "frozen": (freeze, critical),
            "self_critical": (critical, t.steps),
        }
        out: dict = {}
        if spans["encoder_training"][1] > 0:
            out["encoder_training"] = timed_steps(run, batches_of(run, steps + 1, 0))
        if t.freeze_encoder_at is not None:
            run.system.encoder.freeze()
            if cfg.kind == "caption":
                run.train_set.set_captions_per_clip(cfg.captions_per_clip(frozen=True))
            frozen = with_features(run, batches_of(run, steps + 1, steps + 1))
            if spans["frozen"][1] > spans["frozen"][0]:
                out["frozen"] = timed_steps(run, frozen)
            if cfg.loss.self_critical_from is not None:
                phases.start_self_critical(run)
                out["self_critical"] = timed_steps(run, frozen)
    result = {"overrides": overrides, "phases": {}}
    total = 0.0
    for name, seconds in out.items():
        first, last = spans[name]
        n = max(0, last - first)
        result["phases"][name] = {
            "steps": n,
            "s_per_step": round(seconds, 4),
            "projected_s": round(n * seconds, 1),
        }
        total += n * seconds
    result["projected_s"] = round(total, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--reference-set", dest="reference", action="append", default=None, metavar="KEY=VALUE"
    )
    parser.add_argument("--steps", type=int, default=10, help="timed steps per phase")
    args = parser.parse_args()
    result = {"config": args.config, "load_avg_1min": round(os.getloadavg()[0], 2)}
    result["measured"] = project(args.config, args.overrides, args.steps)
    if args.reference is not None:
        result["reference"] = project(args.config, args.reference, args.steps)
        result["ratio"] = round(result["measured"]["projected_s"] / result["reference"]["projected_s"], 3)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
