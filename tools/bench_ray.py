"""Benchmark the Ray executor: how does throughput scale from 1 to 2 local workers?

A "worker" here is one CPU of a local Ray instance holding one model actor and one
decode or sink task at a time (``ray.init(num_cpus=W)``, ``ray.actors=W``,
``ray.cpus_per_actor=0.5``, ``ray.decode_cpus=0.5``). For each W it runs
``pipelines/caption_and_sound.yaml`` on the same generated clips (clips and small
random-init bundles from tools/bench_pipeline.py) in ``--repeats`` pairs of runs: on two
clips (mostly the fixed cost: actor processes start and load the bundles) and on every
clip, keeping the fastest of each. The local executor with ``workers=W`` runs beside it
for reference.

It prints one JSON line: per W the Ray wall seconds, files/s, the steady rate once the
actors are up (``(N - 2) / (wall_N - wall_2)``), the speedups over the first W, and the
local executor's wall. The figures in docs/ray.md come from this script.
Run: ``.venv/bin/python tools/bench_ray.py [--clips 48] [--workers 1 2] [--repeats 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pipeline import PIPELINE, make_bundles, make_clips  # noqa: E402

from avseq.pipeline import expand_inputs, load_pipeline, run_pipeline  # noqa: E402


def ray_walls(overrides: list[str], inputs: list, tmp: Path, workers: int, repeats: int) -> dict:
    """Seconds of Ray runs on a fresh local instance with ``workers`` CPUs.

    ``small``: the fastest run on two clips (mostly the fixed cost: actors start, bundles load);
    ``walls``: ``repeats`` runs on every clip.
    """
    import ray

    from avseq.pipeline.ray_options import RayOptions
    from avseq.pipeline.ray_session import ray_session

    with ray_session(ray, RayOptions(address="local"), num_cpus=workers, configure_logging=False):
        ray_sets = [f"ray.actors={workers}", "ray.cpus_per_actor=0.5", "ray.decode_cpus=0.5"]
        spec = load_pipeline(PIPELINE, [*overrides, "executor=ray", *ray_sets])
        small, walls = [], []
        for k in range(repeats):
            small.append(_timed(spec, inputs[:2], tmp / f"ray{workers}-small{k}"))
            walls.append(_timed(spec, inputs, tmp / f"ray{workers}-{k}"))
        return {"small": min(small), "walls": walls}


def _timed(spec, inputs: list, outdir: Path) -> float:
    result = run_pipeline(spec, inputs, outdir, progress=False)
    if result.counts["ok"] != len(inputs):
        raise RuntimeError(f"the benchmark run failed: {result.counts}")
    return result.wall_seconds


def local_wall(overrides: list[str], inputs: list, tmp: Path, workers: int) -> float:
    """Wall seconds of the local executor with ``workers`` decode processes."""
    spec = load_pipeline(PIPELINE, [*overrides, f"workers={workers}"])
    return run_pipeline(spec, inputs, tmp / f"local{workers}", progress=False).wall_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=48)
    parser.add_argument("--seconds", type=float, default=2.0, help="mean clip length")
    parser.add_argument("--size", type=int, nargs=2, default=(96, 128), metavar=("H", "W"))
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    rows = {}
    with tempfile.TemporaryDirectory(prefix="avseq-bench-ray-") as tmp:
        tmp = Path(tmp)
        (tmp / "clips").mkdir()
        make_clips(tmp / "clips", args.clips, args.seconds, tuple(args.size))
        bundles = make_bundles(tmp / "bundles", fps=8.0, frame=64)
        overrides = [
            "device=cpu", f"batch_size={args.batch_size}",
            f"stages.caption.params.bundle={bundles['caption']}",
            f"stages.sound.params.bundle={bundles['sound']}",
        ]  # fmt: skip
        inputs = expand_inputs([tmp / "clips"])
        for w in args.workers:
            got = ray_walls(overrides, inputs, tmp, w, args.repeats)
            wall = min(got["walls"])
            rows[w] = {"ray_wall": round(wall, 3), "ray_walls": [round(x, 3) for x in got["walls"]]}
            rows[w]["ray_fixed_2_clips"] = round(got["small"], 3)
            rows[w]["ray_files_per_s"] = round(len(inputs) / wall, 3)
            rows[w]["ray_steady_files_per_s"] = round((len(inputs) - 2) / max(wall - got["small"], 1e-9), 3)
            rows[w]["local_wall"] = round(local_wall(overrides, inputs, tmp, w), 3)
    base = rows[args.workers[0]]
    for row in rows.values():
        row["ray_speedup"] = round(base["ray_wall"] / row["ray_wall"], 3)
        row["ray_steady_speedup"] = round(row["ray_steady_files_per_s"] / base["ray_steady_files_per_s"], 3)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(json.dumps({"clips": len(inputs), "batch_size": args.batch_size, "cores": cores, "workers": rows}))


if __name__ == "__main__":
    main()
