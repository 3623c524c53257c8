"""The GPU check behind ``tools/gpu_check.sh``: one GPU, under 8 minutes, one JSON report.

Steps, in order, each under what is left of the budget (a reserve is kept for the steps after
it; a step with too little time left is recorded as skipped, never silently dropped):

1. ``environment``: card, memory, driver and compute capability (nvidia-smi); torch and its CUDA;
   PyAV and its FFmpeg; FFmpeg's hardware devices and whether NVDEC decoding is usable.
2. ``tests``: every ``gpu``-marked test in the repository (``pytest -m gpu tests``), counted
   from its JUnit XML: passed, failed, errors, skipped, and the failures' names and messages.
3. ``decode_cpu`` / ``decode_cuda``: ``tools/bench_decode.py`` on a 1080p H.264 clip, on the CPU
   and on NVDEC.
4. ``pipeline_cuda`` (models on the GPU, NVDEC, ``precision: auto``, ``batch_size: auto``, GPU
   busy share sampled), ``pipeline_cuda_fp32`` (the same in fp32) and ``pipeline_cpu_2core``
   (the CPU run pinned to two cores, the README's figure): ``tools/bench_pipeline.py`` on
   generated clips with the shipped bundles.
5. ``train_precision``: ``tools/bench_train_precision.py`` on cuda: training steps/s of a small
   ``sound_synth`` in eager fp32, bf16, ``torch.compile`` and bf16 + compile, each against eager
   fp32 in the same run, with the largest loss difference from it over the same steps.
6. ``real_cuda`` / ``real_cpu``: ``tools/bench_real.py`` on the mix of real and HD clips.

``figures`` then holds the issue's targets and whether each is met: NVDEC decode of 1080p at the
pipeline's sampling >= 3x the CPU's; pipeline files/s on cuda >= 10x the 2-core CPU's; GPU busy
>= 60% of the run; bf16 model stages >= 1.5x fp32; and every decode asked of NVDEC ran on it.
``figures.train_precision`` gives each training variant's steps/s, ratio and loss difference
(no target: a measurement).
Run it through ``tools/gpu_check.sh [REPORT]`` (that script also says so when there is no GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SHIPPED = ["--caption-bundle", "synth-caption", "--sound-bundle", "synth-sound"]
TARGETS = {  # the issue's: each figure must reach its target
    "nvdec_speedup_1080p": 3.0,
    "pipeline_speedup_vs_2core": 10.0,
    "gpu_busy": 0.6,
    "bf16_speedup": 1.5,
}
MIN_STEP_S = 15  # a step given less than this is skipped


@dataclass
class Step:
    """A command of the check: its budget cap, and the seconds kept back for the steps after it."""

    name: str
    cmd: list[str]
    cap_s: float
    reserve_s: float
    two_cores: bool = False


def steps(work: Path, clips: int) -> list[Step]:
    tests = [PY, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", "tests",
             f"--junitxml={work / 'junit.xml'}"]  # fmt: skip
    decode = [PY, "tools/bench_decode.py", "--size", "1080p", "--seconds", "10", "--repeats", "2"]
    pipeline = [PY, "tools/bench_pipeline.py", "--clips", str(clips), "--repeats", "1", *SHIPPED]
    on_gpu = ["--device", "cuda", "--decode-device", "cuda", "--batch-size", "auto"]
    real = [PY, "tools/bench_real.py", "--only", "mix"]
    train = [PY, "tools/bench_train_precision.py", "--device", "cuda", "--steps", "20",
             "--json", str(work / "train_precision.json")]  # fmt: skip
    return [
        Step("tests", tests, 180, 240),
        Step("decode_cpu", [*decode, "--device", "cpu"], 45, 200),
        Step("decode_cuda", [*decode, "--device", "cuda"], 45, 160),
        Step("pipeline_cuda", [*pipeline, *on_gpu, "--precision", "auto"], 60, 130),
        Step("pipeline_cuda_fp32", [*pipeline, *on_gpu, "--precision", "fp32"], 45, 110),
        Step("train_precision", train, 120, 60),
        Step("pipeline_cpu_2core", [*pipeline, "--device", "cpu"], 100, 40, two_cores=True),
        Step("real_cuda", [*real, "--device", "cuda"], 60, 20),
        Step("real_cpu", [*real, "--device", "cpu"], 60, 0),
    ]


@dataclass
class Clock:
    """Seconds left of the check's budget."""

    budget_s: float
    start: float = field(default_factory=time.monotonic)

    def left(self) -> float:
        return self.budget_s - (time.monotonic() - self.start)


def run_step(step: Step, clock: Clock) -> dict[str, Any]:
    """Run ``step`` within its share of the budget: exit code, seconds, its JSON lines, stderr tail."""
    timeout = min(step.cap_s, clock.left() - step.reserve_s)
    if timeout < MIN_STEP_S:
        return {"status": "skipped", "reason": f"out of time ({clock.left():.0f} s left of the budget)"}
    pin = (lambda: os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:2])) if step.two_cores else None
    start = time.monotonic()
    try:
        done = subprocess.run(
            step.cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, preexec_fn=pin
        )
        out, err, code = done.stdout, done.stderr, done.returncode
    except subprocess.TimeoutExpired as expired:
        out, err, code = _text(expired.stdout), _text(expired.stderr), None
    seconds = round(time.monotonic() - start, 1)
    status = "timed_out" if code is None else ("ok" if code == 0 else "failed")
    return {"status": status, "exit_code": code, "seconds": seconds, "timeout_s": round(timeout),
            "lines": json_lines(out), "stderr_tail": err[-1500:] if status != "ok" else ""}  # fmt: skip


def _text(data: bytes | str | None) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else (data or "")


def json_lines(text: str) -> list[dict]:
    """The JSON objects among ``text``'s lines (the benchmarks print one per line)."""
    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return found


def test_counts(junit: Path) -> dict[str, Any]:
    """passed / failed / errors / skipped of a pytest JUnit XML, and the first failures."""
    if not junit.is_file():
        return {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "failures": [], "note": "no JUnit XML"}
    counts, failures = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}, []
    for case in ET.parse(junit).getroot().iter("testcase"):
        kind = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), None)
        key = {"failure": "failed", "error": "errors", "skipped": "skipped"}.get(kind, "passed")
        counts[key] += 1
        if kind in ("failure", "error"):
            message = " ".join((case.find(kind).get("message") or "").split())[:300]
            failures.append({"test": f"{case.get('classname')}::{case.get('name')}", "message": message})
    return {**counts, "failures": failures[:30]}


def environment() -> dict[str, Any]:
    """The card (nvidia-smi), torch and CUDA, PyAV and FFmpeg, and NVDEC's availability."""
    query = "name,memory.total,driver_version,compute_cap"
    try:
        smi = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30).stdout  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        smi = ""
    cards = [dict(zip(query.split(","), (v.strip() for v in line.split(",")), strict=False))
             for line in smi.splitlines() if line.strip()]  # fmt: skip
    import av
    import torch
    from av.codec.hwaccel import hwdevices_available

    from avseq.io.hwaccel import cuda_decode_available

    return {
        "cards": cards,
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "pyav": av.__version__,
        "ffmpeg_libavcodec": ".".join(map(str, av.library_versions.get("libavcodec", ()))),
        "ffmpeg_hwdevices": hwdevices_available(),
        "nvdec_usable": cuda_decode_available(),
        "python": sys.version.split()[0],
    }


def _line(results: dict, name: str) -> dict | None:
    lines = results.get(name, {}).get("lines") or []
    return lines[-1] if lines else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def figures(results: dict[str, dict]) -> dict[str, Any]:
    """The issue's targets from the steps' lines: each figure, its target and whether it is met."""
    dec_cpu, dec_gpu = _line(results, "decode_cpu"), _line(results, "decode_cuda")
    job = "avseq_8fps_224"  # the pipeline's kind of sampling: 8 fps, scaled in the decoder
    nvdec = _ratio(*(d["seconds"][job] if d else None for d in (dec_cpu, dec_gpu)))
    gpu, fp32, cpu = (_line(results, f"pipeline_{n}") for n in ("cuda", "cuda_fp32", "cpu_2core"))
    files_per_s = {"cuda": gpu and gpu["files_per_s"], "cpu_2core": cpu and cpu["files_per_s"]}
    models = sorted((gpu or {}).get("stage_precision") or {})
    model_s = [sum(line["stage_alone"].get(s, 0.0) for s in models) if line else None for line in (fp32, gpu)]
    values = {
        "nvdec_speedup_1080p": nvdec,
        "pipeline_speedup_vs_2core": _ratio(files_per_s["cuda"], files_per_s["cpu_2core"]),
        "gpu_busy": gpu.get("gpu_busy") if gpu else None,
        "bf16_speedup": _ratio(*model_s),
    }
    out = {k: {"value": v, "target": TARGETS[k], "met": v is not None and v >= TARGETS[k]}
           for k, v in values.items()}  # fmt: skip
    out["decodes_on_nvdec"] = _where_decoded(results)
    out["pipeline_files_per_s"] = files_per_s
    out["stage_precision"] = (gpu or {}).get("stage_precision")
    out["train_precision"] = _train_precision(_line(results, "train_precision"))
    return out


def _train_precision(line: dict | None) -> dict[str, Any] | None:
    """Each variant of tools/bench_train_precision.py: steps/s, ratio to eager fp32, loss difference."""
    if line is None:
        return None
    keep = ("steps_per_s", "ratio_to_eager_fp32", "loss_max_abs_diff", "first_pass_s", "skipped", "error")
    variants = {name: {k: v for k, v in r.items() if k in keep} for name, r in line["variants"].items()}
    return {"complete": line.get("complete"), "card": line.get("card"), "variants": variants}


def _where_decoded(results: dict[str, dict]) -> dict[str, Any]:
    """Where each decode asked of NVDEC ran (bench_decode's decoded_on, the runs' decode_devices)."""
    seen = {}
    dec = _line(results, "decode_cuda")
    if dec:
        seen["decode_cuda"] = dec.get("decoded_on")
    for name in ("pipeline_cuda", "pipeline_cuda_fp32", "real_cuda"):
        line = _line(results, name)
        if line:
            seen[name] = {"devices": line.get("decode_devices"), "fallbacks": line.get("decode_fallbacks")}
    on_gpu = [v.get("device") == "cuda" if "device" in v else set(v["devices"] or {}) == {"cuda"}
              for v in seen.values()]  # fmt: skip
    return {"all_on_cuda": bool(on_gpu) and all(on_gpu), "by_step": seen}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", type=Path, required=True, help="where to write the JSON report")
    parser.add_argument("--budget", type=float, default=480.0, help="seconds for the whole check")
    parser.add_argument("--clips", type=int, default=200, help="generated clips per pipeline benchmark")
    args = parser.parse_args()
    clock = Clock(args.budget)
    report: dict[str, Any] = {"status": "ok", "budget_s": args.budget, "environment": environment()}
    if not report["environment"]["cuda_available"]:
        report["status"] = "cuda_unavailable"
        report["message"] = "nvidia-smi lists a GPU but torch cannot use CUDA (driver or build mismatch)"
        print(f"gpu_check: {report['message']}", file=sys.stderr)
        _write(args.report, report)
        return 1
    work = args.report.parent / f".{args.report.stem}_work"
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    for step in steps(work, args.clips):
        print(f"== {step.name} ({clock.left():.0f} s left)", file=sys.stderr, flush=True)
        results[step.name] = run_step(step, clock)
        print(f"   {results[step.name]['status']}", file=sys.stderr, flush=True)
    report["tests"] = test_counts(work / "junit.xml") | {"step": _brief(results["tests"])}
    report["steps"] = {k: v for k, v in results.items() if k != "tests"}
    report["figures"] = figures(results)
    report["elapsed_s"] = round(args.budget - clock.left(), 1)
    failed = report["tests"]["failed"] + report["tests"]["errors"]
    bad_steps = [k for k, v in results.items() if v["status"] not in ("ok",)]
    report["status"] = "ok" if not failed and not bad_steps else "problems"
    _write(args.report, report)
    return 0 if report["status"] == "ok" else 1


def _brief(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "lines"}


def _write(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    print(f"gpu_check: report written to {path}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
