"""Plain RNN vs GRU vs LSTM on one training config, on the same budget, and why they differ.

Trains ``CONFIG`` once per cell (``system.model.cell``), everything else equal (same data, seed,
steps, sizes), then measures on each run's best bundle how far back its output still depends on
its input: over the validation clips, the gradient norm of the prediction with respect to each
frame's features, by how many frames that frame lies before the clip's last one (the end of a
many-to-one model's sequence, read with ``pooling: last``), relative to the last frame's. A cell
whose gradient vanishes with distance cannot use what happened early in the clip, which is the
gap in the scores. Prints one markdown table (best validation metric, training time, the
gradient's reach, the runs' per-layer gradient norms and clipped fraction from their logs) and
draws ``WORK/cells.png`` (the reach curves and the validation metric over steps).

Run: ``.venv/bin/python tools/compare_cells.py classify_level2 --work /tmp/cells
[--cells rnn,gru,lstm] [--set KEY=VALUE ...]`` (``--set`` applies to every run; e.g.
``--set system.model.pooling=last --set system.model.bidirectional=false`` for a model that must
carry the clip to its last step). Only for kinds whose system maps features to one output per
clip (``classify``).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

from avseq.bundles import load
from avseq.data import read_manifest
from avseq.data.clips import load_frames

DISTANCES = (0, 4, 8, 16, 32, 64)


def train(config: str, cell: str, out: Path, sets: list[str]) -> float:
    """Train one cell's run into ``out``; wall seconds."""
    sets = [f"system.model.cell={cell}", f"output_dir={out}", "train.progress=false", *sets]
    args = [config, *(x for s in sets for x in ("--set", s))]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "avseq", "train", *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"training {cell} failed:\n{done.stderr[-4000:]}")
    return time.perf_counter() - start


def reach(bundle_dir: Path, manifest: Path, clips: int) -> dict[int, float]:
    """Mean over clips of |d prediction / d features_t|, t frames before the last, relative to t = 0."""
    bundle = load(bundle_dir)
    system = bundle.system
    sums: dict[int, list[float]] = {d: [] for d in DISTANCES}
    for entry in read_manifest(manifest)[:clips]:
        frames = load_frames(entry.path, bundle.preprocessing)
        lengths = torch.tensor([len(frames)])
        with torch.no_grad():
            feats = system.features(frames.data[None], lengths)
        feats.requires_grad_(True)
        logits = system.from_features(feats, lengths)
        logits.log_softmax(-1).max(-1).values.sum().backward()  # the predicted classes' log-probability
        norms = feats.grad[0].norm(dim=-1)
        last = len(frames) - 1
        for d in DISTANCES:
            if d <= last:
                sums[d].append(float(norms[last - d] / norms[last].clamp_min(1e-30)))
    return {d: sum(v) / len(v) for d, v in sums.items() if v}


def log_figures(run: Path) -> dict[str, float]:
    """Mean per-layer gradient norms and clipped fraction over the second half of the run's log."""
    rows = list(csv.DictReader((run / "log.csv").open()))
    late = rows[len(rows) // 2 :]
    out = {}
    for column in rows[0]:
        if column.startswith("grad_norm/") or column == "clip_frac":
            values = [float(r[column]) for r in late if r.get(column)]
            if values:
                out[column] = sum(values) / len(values)
    return out


def curve(run: Path, metric: str) -> tuple[list[int], list[float]]:
    rows = [r for r in csv.DictReader((run / "log.csv").open()) if r.get(metric)]
    return [int(r["step"]) for r in rows], [float(r[metric]) for r in rows]


def plot(results: dict, metric: str, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    for cell, r in results.items():
        d = sorted(r["reach"])
        left.plot(d, [r["reach"][k] for k in d], marker="o", label=cell)
        right.plot(*r["curve"], marker=".", label=cell)
    left.set(yscale="log", xlabel="frames before the last", ylabel="|d out / d features| (last = 1)",
             title="how far back the output depends on the input")  # fmt: skip
    right.set(xlabel="step", ylabel=metric, title=f"validation {metric}")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.savefig(png, dpi=90)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="a classify config: a shipped name or a file")
    parser.add_argument("--work", type=Path, required=True, help="where the runs, table and plot go")
    parser.add_argument("--cells", default="rnn,gru,lstm")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="for every run")
    parser.add_argument("--clips", type=int, default=24, help="validation clips the reach is measured on")
    args = parser.parse_args()
    results = {}
    for cell in args.cells.split(","):
        run = args.work / cell
        seconds = train(args.config, cell, run, args.set)
        summary = json.loads((run / "summary.json").read_text())
        meta = json.loads((run / "best" / "bundle" / "bundle.json").read_text())["meta"]
        val_manifest = Path(meta["splits"][meta["train_config"]["data"]["val_split"]])
        metric = summary["metric"]
        results[cell] = {
            "best": summary["best_value"], "best_step": summary["best_step"], "seconds": round(seconds),
            "reach": reach(run / "best" / "bundle", val_manifest, args.clips),
            "log": log_figures(run), "curve": curve(run, metric),
        }  # fmt: skip
        shown = {k: v for k, v in results[cell].items() if k != "curve"}
        print(json.dumps({"cell": cell, **shown}), flush=True)
    plot(results, metric, args.work / "cells.png")
    far = [d for d in DISTANCES if all(d in r["reach"] for r in results.values())]
    heads = " | ".join(f"grad at -{d}" for d in far[1:])
    print(f"\n| cell | best {metric} (step) | train s | {heads} |")
    print("|---|---|---|" + "---|" * len(far[1:]))
    for cell, r in results.items():
        reach_cells = " | ".join(f"{r['reach'][d]:.2g}" for d in far[1:])
        print(f"| {cell} | {r['best']:.3f} ({r['best_step']}) | {r['seconds']} | {reach_cells} |")
    print(f"\nplot: {args.work / 'cells.png'}")


if __name__ == "__main__":
    main()
