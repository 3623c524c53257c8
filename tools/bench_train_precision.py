"""Training steps per second in eager fp32, bf16, torch.compile and bf16 + compile, in one run.

Each variant sets the config up afresh (same seed: the same initial weights and batches), trains
``--steps`` batches once, compiling where asked for every shape they hold, then the same batches
again, timed. The first pass's losses are compared step by step with eager fp32's (``loss_max_abs_diff``);
rates are given as steps/s and as a ratio to eager fp32 measured in the same run. bf16 is CUDA's
autocast (``train.bf16``), so on the CPU only eager fp32 and compile run and the JSON says why.
With inductor the loss differences include dropout: inductor draws its own masks
(``--set system.model.dropout=0`` leaves float rounding alone).
Decoding is excluded (the batches are loaded before timing), as in ``tools/bench_train.py``.

The config (default the shipped ``sound_synth``) is shrunk by :data:`SMALL` to a few generated
clips in a temporary folder; ``--set`` overrides come after it.

Run: ``.venv/bin/python tools/bench_train_precision.py [CONFIG] [--set k=v ...] [--steps 20]
[--device auto|cpu|cuda] [--backend inductor] [--json out.json]``. Prints a JSON line after each
variant (``complete: false``, so a caller that stops it early keeps what was measured) and the
whole result last.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from avseq.devices import resolve_device  # noqa: E402
from avseq.train.config import load_config  # noqa: E402
from avseq.train.loop import setup  # noqa: E402
from tools.bench_train import batches_of, step  # noqa: E402

# A few small generated clips: enough distinct batches to time, quick to render on any machine.
SMALL = [
    "data.splits.train.clips=24", "data.splits.val.clips=4", "data.val_clips=4",
    "data.in_memory=false", "train.batch_size=8", "train.progress=false", "train.card=false",
]  # fmt: skip
VARIANTS = {
    "eager_fp32": ["train.bf16=false", "train.compile=false"],
    "bf16": ["train.bf16=true", "train.compile=false"],
    "compile": ["train.bf16=false", "train.compile=true"],
    "bf16_compile": ["train.bf16=true", "train.compile=true"],
}
CUDA_ONLY = ("bf16", "bf16_compile")


def train_pass(run, batches) -> list[float]:
    """Train on each batch in turn; the losses."""
    return [step(run, batch).loss for batch in batches]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(config: str, overrides: list[str], steps: int, folder: Path, name: str) -> dict:
    """One variant: its first pass's seconds and losses, and the steps/s of the timed second pass."""
    cfg = load_config(config, overrides)
    torch.compiler.reset()  # each variant compiles afresh, within its own recompile limits
    run = setup(cfg, folder / name)
    batches = batches_of(run, steps, 0)
    _sync(run.device)
    start = time.perf_counter()
    losses = train_pass(run, batches)
    _sync(run.device)
    first = time.perf_counter() - start
    start = time.perf_counter()
    train_pass(run, batches)
    _sync(run.device)
    seconds = time.perf_counter() - start
    return {"steps_per_s": round(steps / seconds, 3), "first_pass_s": round(first, 2), "losses": losses}


def compare(results: dict[str, dict]) -> dict[str, dict]:
    """``results`` with each variant's ratio to eager fp32's rate and its largest loss difference
    from it added (in place; returned for convenience)."""
    base = results.get("eager_fp32", {})
    for result in results.values():
        if "steps_per_s" not in result or "steps_per_s" not in base:
            continue
        result["ratio_to_eager_fp32"] = round(result["steps_per_s"] / base["steps_per_s"], 3)
        diffs = [abs(a - b) for a, b in zip(result["losses"], base["losses"], strict=True)]
        result["loss_max_abs_diff"] = max(diffs) if diffs else None
    return results


def bench(
    config: str, overrides: list[str], steps: int, device: str, backend: str, progress: bool = False
) -> dict:
    """Every variant the device runs, measured in this process (see the module docstring).
    progress: print the figures so far as a JSON line after each variant."""
    on = resolve_device(device, "--device")
    out: dict = {
        "config": config, "overrides": overrides, "steps": steps, "device": str(on), "backend": backend,
        "torch": torch.__version__, "load_avg_1min": round(os.getloadavg()[0], 2),
    }  # fmt: skip
    if on.type == "cuda":
        out["card"] = torch.cuda.get_device_name(on)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench_train_precision_") as tmp:
        shared = [*SMALL, f"data.root={Path(tmp) / 'data'}", *overrides, f"train.device={device}",
                  f"train.compile_backend={backend}"]  # fmt: skip
        for name, variant in VARIANTS.items():
            if name in CUDA_ONLY and on.type != "cuda":
                results[name] = {"skipped": "bf16 autocast is CUDA-only (train.bf16 is ignored on the CPU)"}
                continue
            try:
                results[name] = measure(config, [*shared, *variant], steps, Path(tmp), name)
            except Exception as err:  # a variant that fails is reported, the others still run
                results[name] = {"error": f"{type(err).__name__}: {err}"[:800]}
                traceback.print_exc()
            print(f"{name}: {_brief(results[name])}", file=sys.stderr, flush=True)
            if progress:  # what is measured so far, should the caller's time run out
                print(json.dumps({**out, "complete": False, "variants": compare(dict(results))}), flush=True)
    return {**out, "complete": True, "variants": compare(results)}


def _brief(result: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in result.items() if k != "losses")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config", nargs="?", default="sound_synth", help="config file or shipped name")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--steps", type=int, default=20, help="batches per pass")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    parser.add_argument("--backend", default="inductor", help="train.compile_backend of the compile variants")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    result = bench(args.config, args.overrides, args.steps, args.device, args.backend, progress=True)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
