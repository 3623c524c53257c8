"""The console script: exit codes and output survive the exit that skips the interpreter's teardown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"


def avseq(*args: str) -> subprocess.CompletedProcess:
    code = "from avseq.cli import entry; entry()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def test_output_and_exit_code_after_torch_is_loaded(tmp_path):
    done = avseq("validate", str(PIPELINES / "sound.yaml"))
    assert done.returncode == 0 and done.stdout.rstrip().endswith("ok")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nstages: []\n")
    failed = avseq("validate", str(bad))
    assert failed.returncode == 2 and "error:" in failed.stderr


def test_exit_code_of_a_command_without_torch(tmp_path):
    missing = avseq("probe", str(tmp_path / "nothing.mp4"))
    assert missing.returncode == 1 and "error:" in missing.stderr
