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
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import avseq.errors
from tools.proc_memory import TreeMemory

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


def run_avseq(args: list[str], deadline: float, log: Path) -> RunOutcome:
    """Run ``python -m avseq *args``; kill it after ``deadline`` seconds. Stderr goes to ``log``."""
    start = time.monotonic()
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "avseq", *args],
            cwd=ROOT,
            stderr=err,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        killed = False
        with TreeMemory(proc.pid) as memory:
            try:
                proc.wait(timeout=deadline)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
                killed = True
    return RunOutcome(
        proc.returncode,
        time.monotonic() - start,
        memory.peak_rss_mb,
        memory.peak_tree_mb,
        log.read_text(errors="replace"),
        killed,
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
