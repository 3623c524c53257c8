"""tools/gpu_check.sh: says so and exits cleanly without a GPU; the report's parts (test counts,
steps within the budget, the figures against the issue's targets) are made right."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools import gpu_check

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="nvidia-smi is here: a GPU may be")
def test_without_a_gpu_it_says_so_and_exits_cleanly(tmp_path):
    report = tmp_path / "r" / "report.json"
    done = subprocess.run(["bash", "tools/gpu_check.sh", str(report)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0
    assert "gpu_check: no NVIDIA GPU here" in done.stderr and "nothing to check" in done.stderr
    assert json.loads(report.read_text())["status"] == "no_gpu"


def test_every_gpu_marked_test_in_the_repository_runs():
    (tests,) = [s for s in gpu_check.steps(Path("w"), 200) if s.name == "tests"]
    marker = tests.cmd.index("gpu")
    assert tests.cmd[marker - 1] == "-m" and tests.cmd[:3] == [sys.executable, "-m", "pytest"]
    assert "tests" in tests.cmd and not any(a.startswith("tests/") for a in tests.cmd)  # all of them


def test_test_counts_come_from_the_junit_xml(tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.io.test_a" name="test_ok"/>'
        '<testcase classname="tests.io.test_a" name="test_bad">'
        '<failure message="assert 1 ==\n 2"/></testcase>'
        '<testcase classname="tests.x" name="test_err"><error message="boom"/></testcase>'
        '<testcase classname="tests.x" name="test_skip"><skipped message="needs CUDA"/></testcase>'
        "</testsuite></testsuites>"
    )
    counts = gpu_check.test_counts(junit)
    assert {k: counts[k] for k in ("passed", "failed", "errors", "skipped")} == {
        "passed": 1, "failed": 1, "errors": 1, "skipped": 1,
    }  # fmt: skip
    assert counts["failures"][0] == {"test": "tests.io.test_a::test_bad", "message": "assert 1 == 2"}
    assert gpu_check.test_counts(tmp_path / "missing.xml")["note"] == "no JUnit XML"


def test_a_step_runs_within_the_budget_or_is_skipped():
    clock = gpu_check.Clock(100.0)
    sleepy = gpu_check.Step("s", [sys.executable, "-c", "import time; time.sleep(30)"], cap_s=1, reserve_s=0)
    assert gpu_check.run_step(sleepy, clock)["status"] == "skipped"  # 1 s is under MIN_STEP_S
    sleepy.cap_s = gpu_check.MIN_STEP_S
    result = gpu_check.run_step(gpu_check.Step("s", sleepy.cmd, 60, 100 - gpu_check.MIN_STEP_S), clock)
    assert result["status"] == "skipped"  # the reserve for later steps leaves too little
    code = "import json, os; print(json.dumps({'cores': len(os.sched_getaffinity(0))}))"
    pinned = gpu_check.Step("p", [sys.executable, "-c", code], 30, 0, two_cores=True)
    result = gpu_check.run_step(pinned, gpu_check.Clock(100.0))
    assert result["status"] == "ok" and result["lines"] == [{"cores": min(2, len(_cores()))}]


def _cores():
    import os

    return os.sched_getaffinity(0)


def test_the_figures_measure_the_targets_from_the_steps_lines():
    def step(line):
        return {"status": "ok", "lines": [line]}

    results = {
        "decode_cpu": step({"seconds": {"avseq_8fps_224": 3.0}}),
        "decode_cuda": step({"seconds": {"avseq_8fps_224": 0.5},
                             "decoded_on": {"device": "cuda", "fallback": None}}),
        "pipeline_cuda": step({"files_per_s": 150.0, "gpu_busy": 0.55, "stage_precision": {"caption": "bf16"},
                               "stage_alone": {"caption": 1.0, "vocoder": 9.0},
                               "decode_devices": {"cuda": 200}, "decode_fallbacks": {}}),
        "pipeline_cuda_fp32": step({"files_per_s": 120.0, "stage_alone": {"caption": 2.0, "vocoder": 9.0},
                                    "decode_devices": {"cuda": 199, "cpu": 1}, "decode_fallbacks": {"x": 1}}),
        "pipeline_cpu_2core": step({"files_per_s": 10.0}),
        "real_cuda": {"status": "skipped"},
    }  # fmt: skip
    figures = gpu_check.figures(results)
    assert figures["nvdec_speedup_1080p"] == {"value": 6.0, "target": 3.0, "met": True}
    assert figures["pipeline_speedup_vs_2core"] == {"value": 15.0, "target": 10.0, "met": True}
    assert figures["gpu_busy"] == {"value": 0.55, "target": 0.6, "met": False}
    assert figures["bf16_speedup"] == {"value": 2.0, "target": 1.5, "met": True}  # model stages only
    assert figures["decodes_on_nvdec"]["all_on_cuda"] is False  # one file of the fp32 run fell back
    assert gpu_check.figures({})["bf16_speedup"] == {"value": None, "target": 1.5, "met": False}
