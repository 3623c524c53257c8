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
    """What the child ``avseq run`` did: exit code, wall seconds, peak RSS of its largest process and
    peak summed PSS of its process tree (MiB, from /proc every 0.2 s), stderr text."""

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


def _proc_kb(pid: int, name: str, key: str) -> int | None:
    """The ``key:`` line of ``/proc/<pid>/<name>`` in KiB; None where it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _pss_kb(pid: int, rss_pages: int) -> int:
    """Proportional set size of ``pid`` in KiB (pages shared after fork counted once); RSS if unknown."""
    pss = _proc_kb(pid, "smaps_rollup", "Pss")
    return pss if pss is not None else rss_pages * os.sysconf("SC_PAGE_SIZE") // 1024


def _hwm_kb(pid: int) -> int:
    """Peak RSS (VmHWM, KiB) of ``pid``'s current address space: unlike ``ru_maxrss`` it starts
    afresh at exec, so a child does not inherit the peak of the large process that spawned it."""
    return _proc_kb(pid, "status", "VmHWM") or 0


def _tree(pid: int) -> dict[int, int]:
    """RSS pages of ``pid`` and each of its descendants, from /proc (empty where /proc is absent)."""
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
    return {p: rss[p] for p in tree if p in rss}


def _tree_memory_mb(pid: int) -> tuple[float, float]:
    """(summed PSS of ``pid``'s process tree, peak RSS of its largest process so far), in MiB."""
    tree = _tree(pid)
    summed = sum(_pss_kb(p, pages) for p, pages in tree.items()) / 1024
    return summed, max((_hwm_kb(p) for p in tree), default=0) / 1024


def run_avseq(args: list[str], deadline: float, log: Path) -> RunOutcome:
    """Run ``python -m avseq *args``; kill it after ``deadline`` seconds. Stderr goes to ``log``."""
    start = time.monotonic()
    peak = [0.0, 0.0]  # summed over the tree, largest process
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
            while not done.wait(0.2):
                summed, largest = _tree_memory_mb(proc.pid)
                peak[0], peak[1] = max(peak[0], summed), max(peak[1], largest)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        killed = False
        try:
            proc.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            killed = True
        done.set()
        sampler.join()
    return RunOutcome(
        proc.returncode, time.monotonic() - start, peak[1], peak[0], log.read_text(errors="replace"), killed
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
