"""Decode workers do not outlive the run that started them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(")")[-1].split()[0] == "Z")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_die_with_a_killed_run():
    """SIGKILL the process running a DecodePool mid-file: its workers are gone at once instead of
    decoding on as orphans until their next send."""
    code = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        from avseq.pipeline.workers import DecodePool, FileDone

        def slow(path):
            time.sleep(60)
            yield FileDone(-1, 0, 0.0, 0.0)

        pool = DecodePool(slow, 2, None, prefetch=2)
        pool.start([(0, Path("a")), (1, Path("b"))])
        print(" ".join(str(w.proc.pid) for w in pool._workers), flush=True)
        time.sleep(60)
        """
    )
    run = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in run.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        run.send_signal(signal.SIGKILL)
        run.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(p) for p in pids)
    finally:
        run.kill()
        run.wait()
