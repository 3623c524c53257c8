"""Running the batch stages on windows from several files at once."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from avseq.pipeline.plan import Plan
from avseq.pipeline.stages import split_batch
from avseq.pipeline.workers import Window


@dataclass
class ClipResult:
    """What one window produced: pieces by stage id (only the kept ones), seconds by stage id."""

    window: Window
    pieces: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    error: BaseException | None = None


def run_batch(plan: Plan, windows: list[Window]) -> list[ClipResult]:
    """Run every batch stage once on ``windows`` (padded together); one result per window.

    When the batch fails, each window is retried alone so that one bad clip fails
    only its own file.
    """
    try:
        return _run(plan, windows)
    except Exception as err:
        if len(windows) == 1:
            return [ClipResult(windows[0], error=err)]
        return [r for w in windows for r in run_batch(plan, [w])]


def _last_uses(plan: Plan) -> dict[int, list[str]]:
    """Batch-stage position -> ids whose values nothing after it reads (kept pieces excepted)."""
    last: dict[str, int] = {}
    for k, stage in enumerate(plan.batch):
        for i in stage.input:
            last[i] = k
    done: dict[int, list[str]] = {}
    for sid, k in last.items():
        if sid not in plan.keep:
            done.setdefault(k, []).append(sid)
    return done


def _run(plan: Plan, windows: list[Window]) -> list[ClipResult]:
    n = len(windows)
    values: dict[str, Any] = {s.id: [w.values[s.id] for w in windows] for s in plan.sources}
    shares: dict[str, float] = {}
    release = _last_uses(plan)  # a branch's float frames go once its model has read them
    for k, stage in enumerate(plan.batch):
        start = time.perf_counter()
        values[stage.id] = plan.objects[stage.id]([values[i] for i in stage.input])
        shares[stage.id] = (time.perf_counter() - start) / n
        for sid in release.get(k, ()):
            del values[sid]
    start = time.perf_counter()
    pieces = {sid: split_batch(plan.kind(sid), values[sid], n) for sid in plan.keep}
    split_share = (time.perf_counter() - start) / n
    results = []
    for i, w in enumerate(windows):
        timings = dict(shares)
        if split_share > 1e-4:
            timings["split"] = split_share
        results.append(ClipResult(w, {sid: p[i] for sid, p in pieces.items()}, timings))
    return results
