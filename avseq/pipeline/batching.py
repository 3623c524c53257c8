"""Running the batch stages on windows from several files at once.

Each stage runs at the pipeline's precision (:meth:`~avseq.pipeline.plan.Plan.precision`). A
batch that runs out of device memory is run again in halves, down to one window, so a batch size
too large for the card costs time, not files; a batch that fails otherwise is run window by
window, so one bad clip fails only its own file.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from avseq.pipeline.domain import DomainScore
from avseq.pipeline.plan import Plan
from avseq.pipeline.stages import split_batch
from avseq.pipeline.workers import Window

log = logging.getLogger(__name__)


@dataclass
class ClipResult:
    """What one window produced: pieces by stage id (only the kept ones), seconds by stage id.

    fitted: after an out-of-memory error, the number of windows of the smaller batch this one
    ran in (None: its batch ran as given).
    """

    window: Window
    pieces: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    error: BaseException | None = None
    domain: list[DomainScore] = field(default_factory=list)  # one per watched bundle (pipeline.domain)
    fitted: int | None = None


def run_batch(plan: Plan, windows: list[Window]) -> list[ClipResult]:
    """Run every batch stage once on ``windows`` (padded together); one result per window.

    Out of device memory: the batch runs again in two halves (each halved again while it does
    not fit; a single window that does not fit fails its file). Any other error: each window is
    retried alone so that one bad clip fails only its own file.
    """
    try:
        return _run(plan, windows)
    except Exception as err:
        if len(windows) == 1:
            return [ClipResult(windows[0], error=err)]
        out_of_memory = is_out_of_memory(err)
    # here, past the except block, the failed batch's tensors are free
    if out_of_memory:
        return _in_halves(plan, windows)
    return [r for w in windows for r in run_batch(plan, [w])]


def is_out_of_memory(err: BaseException) -> bool:
    """True for torch's device out-of-memory error (CUDA's, or another accelerator's)."""
    import torch

    return isinstance(err, torch.cuda.OutOfMemoryError)


def _in_halves(plan: Plan, windows: list[Window]) -> list[ClipResult]:
    import torch

    if torch.cuda.is_initialized():
        torch.cuda.empty_cache()  # the failed batch's blocks, cached by the allocator
    half = (len(windows) + 1) // 2
    log.warning("a batch of %d windows ran out of device memory; running it as %d + %d",
                len(windows), half, len(windows) - half)  # fmt: skip
    results = []
    for part in (windows[:half], windows[half:]):
        for r in run_batch(plan, part):
            r.fitted = len(part) if r.fitted is None else r.fitted
            results.append(r)
    return results


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
    plan.context.domain.begin()
    for k, stage in enumerate(plan.batch):
        start = time.perf_counter()
        with plan.precision(stage.id):
            values[stage.id] = plan.objects[stage.id]([values[i] for i in stage.input])
        shares[stage.id] = (time.perf_counter() - start) / n
        for sid in release.get(k, ()):
            del values[sid]
    start = time.perf_counter()
    pieces = {sid: split_batch(plan.kind(sid), values[sid], n) for sid in plan.keep}
    split_share = (time.perf_counter() - start) / n
    domain = plan.context.domain.take(n)
    results = []
    for i, w in enumerate(windows):
        timings = dict(shares)
        if split_share > 1e-4:
            timings["split"] = split_share
        results.append(ClipResult(w, {sid: p[i] for sid, p in pieces.items()}, timings, domain=domain[i]))
    return results
