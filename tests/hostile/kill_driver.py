"""Start ``avseq run`` rounds by fork (torch imported once) and SIGKILL each at a random point.

Run as ``python kill_driver.py SEED OUTDIR -- AVSEQ_ARGS...``. For each ``go`` line on stdin it
forks a child that runs ``avseq AVSEQ_ARGS`` in its own process group, kills the group with
SIGKILL (while starting, or within a few ms after the run appends its next results line or two), and
prints one JSON line ``{"where": "startup" | "working" | "finished"}``. ``stop`` or EOF ends it.
Forking saves the seconds of importing torch per round; the parent never runs a torch op, so
the children start from a clean state.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _child(args: list[str]) -> None:
    os.setsid()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    from avseq.cli import main

    try:
        main(args, prog_name="avseq")
    finally:
        os._exit(0)


def _round(args: list[str], out: Path, rng: random.Random) -> str:
    before = _lines(out / "results.jsonl")
    pid = os.fork()
    if pid == 0:
        _child(args)
    if rng.random() < 0.25:
        time.sleep(rng.uniform(0.02, 0.5))
        where = "startup"
    else:
        # Kill within a few ms of the run's next results line (or the one after), while the
        # following file is mid-work: a fixed delay would let a fast machine finish the job.
        target, deadline = before + rng.choice([1, 1, 2]), time.monotonic() + 60
        while _lines(out / "results.jsonl") < target and time.monotonic() < deadline:
            if os.waitpid(pid, os.WNOHANG) != (0, 0):
                return "finished"
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.02))
        where = "working"
    if os.waitpid(pid, os.WNOHANG) != (0, 0):
        return "finished"
    os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return where


def main() -> None:
    seed, out, sep, *args = sys.argv[1:]
    if sep != "--":
        raise SystemExit("usage: kill_driver.py SEED OUTDIR -- AVSEQ_ARGS...")
    # Import what a run imports (no torch op runs here, so forking stays safe).
    import avseq.bundles  # noqa: F401
    import avseq.cli.run  # noqa: F401
    import avseq.io.audio  # noqa: F401  (avseq.io loads its torch modules lazily)
    import avseq.io.mux  # noqa: F401
    import avseq.io.video  # noqa: F401
    import avseq.io.windows  # noqa: F401
    import avseq.models  # noqa: F401
    import avseq.pipeline  # noqa: F401
    import avseq.vocoders  # noqa: F401

    rng = random.Random(int(seed))
    for line in sys.stdin:
        if line.strip() != "go":
            break
        print(json.dumps({"where": _round(args, Path(out), rng)}), flush=True)


if __name__ == "__main__":
    main()
