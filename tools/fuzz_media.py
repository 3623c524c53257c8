"""Fuzz avseq's media path: mutate valid clips, run ``avseq run`` over them, print one JSON line.

Builds ``--n`` inputs under ``-o DIR`` (5 valid seeds of MP4/H.264+AAC, WebM/VP9+Opus,
MKV/H.264+FLAC, AVI/MPEG-4+MP3 and WAV; hand-made hostile cases; then mutants made by bit
flips, byte-range overwrites, truncation, duplicated / dropped chunks and header-field
corruption), runs ``avseq run pipelines/caption_and_sound.yaml`` over them through a manifest
and prints: inputs, ok, failed (clear avseq error), unclear (raw error type or bad message),
crashed (decode process died / no results line / traceback on stderr), hung (per-file timeout),
missing results lines, peak RSS of the largest process and of the whole process tree (MiB).

Run: ``.venv/bin/python tools/fuzz_media.py --n 500 --seed 0 -o /tmp/fuzz``.
Exit code 0 when nothing crashed or hung and every input has its results line, else 1.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.fuzzing.bundles import bundle_overrides  # noqa: E402
from tools.fuzzing.corpus import build_corpus  # noqa: E402
from tools.fuzzing.harness import ROOT, run_avseq, tally  # noqa: E402

PIPELINE = ROOT / "pipelines" / "caption_and_sound.yaml"


def fuzz(n: int, seed: int, folder: Path, timeout: float, workers: int, big_frame: bool = True) -> dict:
    """Build the corpus in ``folder``, run the pipeline over it and return the summary dict."""
    shutil.rmtree(folder / "out", ignore_errors=True)
    cases = build_corpus(folder / "inputs", n, seed, big_frame)
    sets, note = bundle_overrides(folder / "bundles")
    args = [
        "run",
        str(PIPELINE),
        "-i",
        str(folder / "inputs" / "inputs.jsonl"),
        "-o",
        str(folder / "out"),
        "--quiet",
        "--timeout",
        str(timeout),
        "--workers",
        str(workers),
        "--set",
        "device=cpu",
    ]
    for s in sets:
        args += ["--set", s]
    outcome = run_avseq(args, deadline=max(300.0, 4.0 * n + 10 * timeout), log=folder / "run.stderr")
    t = tally([c.id for c in cases], folder / "out")
    run_crashed = outcome.returncode not in (0, 1) or "Traceback" in outcome.stderr
    return {
        "inputs": len(cases),
        "ok": t.counts["ok"],
        "failed": t.counts["failed"],
        "unclear": t.counts["unclear"],
        "crashed": t.counts["crashed"],
        "hung": t.counts["hung"],
        "results_lines": len(cases) - t.counts["missing"],
        "run_exit_code": outcome.returncode,
        "run_crashed": run_crashed,
        "peak_rss_mb": round(outcome.peak_rss_mb, 1),
        "peak_tree_rss_mb": round(outcome.peak_tree_rss_mb, 1),
        "wall_seconds": round(outcome.wall, 1),
        "error_types": dict(t.error_types.most_common()),
        "examples": t.examples,
        "seed": seed,
        "bundles": note,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="number of inputs (seeds + hand-made + mutants)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path, required=True, help="work folder (inputs, out, bundles)")
    parser.add_argument("--timeout", type=float, default=60.0, help="per-file timeout of avseq run (s)")
    parser.add_argument("--workers", type=int, default=2, help="decode worker processes")
    args = parser.parse_args(argv)
    summary = fuzz(args.n, args.seed, args.output, args.timeout, args.workers)
    print(json.dumps(summary))
    good = not (summary["crashed"] or summary["hung"] or summary["run_crashed"] or summary["unclear"])
    return 0 if good and summary["results_lines"] == summary["inputs"] else 1


if __name__ == "__main__":
    sys.exit(main())
