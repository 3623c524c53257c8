"""Run ``avseq run`` over a fuzz corpus in a child process and classify what happened to each input.

Per input: ``ok``; ``failed`` with a clear error (an avseq error type and a one-line message);
``unclear`` (failed, but with a raw Python exception type or an empty / multi-line message);
``hung`` (the per-file timeout fired); ``crashed`` (a decode process died, or the input has no
results line because the run died). A raw traceback on the run's stderr or an exit code other
than 0/1 marks the run itself as crashed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import avseq.errors

ROOT = Path(__file__).resolve().parents[2]
CLEAR_TYPES = {
    name
    for name, obj in vars(avseq.errors).items()
    if isinstance(obj, type) and issubclass(obj, avseq.errors.AvseqError)
}


@dataclass
class RunOutcome:
    """What the child ``avseq run`` did: exit code, wall seconds, peak RSS in MiB, stderr text."""

    returncode: int
    wall: float
    peak_rss_mb: float
    peak_tree_rss_mb: float
    stderr: str
    killed: bool = False


@dataclass
class Tally:
    """Counts per category plus the error types seen and up to 10 examples of each bad kind."""

    counts: Counter = field(default_factory=Counter)
    error_types: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, example: str = "") -> None:
        self.counts[kind] += 1
        if example and kind not in ("ok", "failed") and len(self.examples.setdefault(kind, [])) < 10:
            self.examples[kind].append(example)


def _pss_kb(pid: int, rss_pages: int) -> int:
    """Proportional set size of ``pid`` in KiB (pages shared after fork counted once); RSS if unknown."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return rss_pages * os.sysconf("SC_PAGE_SIZE") // 1024


def _tree_rss_mb(pid: int) -> float:
    """Summed PSS (MiB) of ``pid`` and its descendants, from /proc (0 where /proc is absent)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            parents[int(entry)], rss[int(entry)] = int(fields[1]), int(fields[21])
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = {pid}, [pid]
    while frontier:
        kids = [p for p, pp in parents.items() if pp in frontier and p not in tree]
        tree.update(kids)
        frontier = kids
    return sum(_pss_kb(p, rss[p]) for p in tree if p in rss) / 1024


def _reap(proc: subprocess.Popen, timeout: float | None) -> float | None:
    """Wait for ``proc`` (at most ``timeout`` seconds; None: until it exits) and record its exit
    code; return the peak RSS (MiB) of the largest process in its tree, or None if it still runs.
    ``os.wait4`` reports that child's own usage: ``RUSAGE_CHILDREN`` would also count every earlier
    child of this process, such as workers a test session forked while it was large."""
    end = None if timeout is None else time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, 0 if end is None else os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage.ru_maxrss / 1024
        if time.monotonic() >= end:
            return None
        time.sleep(0.05)


def run_avseq(args: list[str], deadline: float, log: Path) -> RunOutcome:
    """Run ``python -m avseq *args``; kill it after ``deadline`` seconds. Stderr goes to ``log``."""
    start = time.monotonic()
    peak = [0.0]
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "avseq", *args],
            cwd=ROOT,
            stderr=err,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.5):
                peak[0] = max(peak[0], _tree_rss_mb(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        maxrss = _reap(proc, deadline)
        killed = maxrss is None
        if killed:
            os.killpg(proc.pid, 9)
            maxrss = _reap(proc, None)
        done.set()
        sampler.join()
    return RunOutcome(
        proc.returncode, time.monotonic() - start, maxrss, peak[0], log.read_text(errors="replace"), killed
    )


def classify(record: dict | None) -> str:
    """ok / failed / unclear / hung / crashed for one results.jsonl record (None = no line)."""
    if record is None:
        return "crashed"
    if record.get("status") in ("ok", "skipped"):
        return "ok"
    error = record.get("error") or {}
    kind, message = error.get("type", ""), error.get("message", "")
    if kind == "TimeoutError":
        return "hung"
    if kind == "DecoderCrash":
        return "crashed"
    clear = kind in CLEAR_TYPES and message and "\n" not in message and "Traceback" not in message
    return "failed" if clear else "unclear"


def tally(ids: list[str], outdir: Path) -> Tally:
    """Classify each of ``ids`` from ``outdir/results.jsonl`` (last line per id wins)."""
    records: dict[str, dict] = {}
    path = outdir / "results.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        records[rec.get("id")] = rec
    out = Tally()
    for i in ids:
        rec = records.get(i)
        kind = classify(rec)
        if rec is None:
            out.counts["missing"] += 1
        if rec and rec.get("error"):
            out.error_types[rec["error"].get("type", "?")] += 1
        out.add(kind, f"{i}: {json.dumps(rec.get('error')) if rec else 'no results line'}")
    return out
