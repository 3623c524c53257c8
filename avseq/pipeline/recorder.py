"""Run bookkeeping shared by every executor: resume skips, results.jsonl, progress, fail-fast, summary.

The local executor (:mod:`avseq.pipeline.executor`) and the Ray executor
(:mod:`avseq.pipeline.ray_executor`) both subclass or use :class:`RunRecorder`, so
they keep one set of resume and reporting rules.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avseq.io.atomic import remove_stale_temps
from avseq.pipeline.domain import domain_counts
from avseq.pipeline.finalize import clear_staging
from avseq.pipeline.inputs import InputItem
from avseq.pipeline.plan import Plan
from avseq.pipeline.progress import Progress
from avseq.pipeline.results import (
    RESULTS_NAME,
    SUMMARY_NAME,
    Result,
    ResultLog,
    is_complete,
    read_results,
    write_summary,
)
from avseq.pipeline.spec import PipelineSpec


@dataclass
class RunSummary:
    """Counts and throughput of one run (also written to ``OUTDIR/summary.json``)."""

    counts: dict[str, int]
    wall_seconds: float
    results: list[Result] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, else 1."""
        return 1 if self.counts.get("failed") else 0


class RunRecorder:
    """What every executor does alike: resume skips, results.jsonl lines, progress, fail-fast, summary."""

    def __init__(
        self, plan: Plan, outdir: Path, inputs: list[InputItem], fail_fast: bool, progress: Progress
    ):
        self.plan, self.outdir, self.inputs = plan, outdir, inputs
        self.fail_fast, self.progress = fail_fast, progress
        clear_staging(outdir)
        for name in (RESULTS_NAME, SUMMARY_NAME):  # a kill while rewriting them leaves a temp file
            remove_stale_temps(outdir / name)
        self.log = ResultLog(outdir)
        self.results: dict[str, Result] = {}
        self.stopped = False

    def resume(self, overwrite: bool) -> list[InputItem]:
        """Record inputs complete from an earlier run as skipped (none if ``overwrite``); return the rest."""
        previous = {} if overwrite else read_results(self.outdir)
        expected = set(self.plan.expected_outputs())
        todo = []
        for item in self.inputs:
            rec = previous.get(item.id)
            if rec and rec.get("input") == str(item.path) and is_complete(self.outdir, rec, expected):
                self.record(Result.from_record(rec, status="skipped", finished_at=""))
            else:
                todo.append(item)
        return todo

    def record(self, result: Result) -> None:
        """Append ``result`` to results.jsonl and the progress bar; a failure stops a fail-fast run."""
        self.results[result.id] = result
        self.log.append(result)
        self.progress.update(result.status)
        if result.status == "failed" and self.fail_fast:
            self.stopped = True

    def finish(self, wall: float, **summary_fields: Any) -> RunSummary:
        """Compact results.jsonl, write summary.json (``summary_fields`` added or replaced)."""
        self.progress.close()
        clear_staging(self.outdir)
        order = [i.id for i in self.inputs]
        self.log.compact(order, self.results)
        results = [self.results[i] for i in order if i in self.results]
        summary = build_summary(results, len(self.inputs), wall, self.plan.spec, self.plan)
        summary.update(summary_fields)
        write_summary(self.outdir, summary)
        return RunSummary(summary["counts"], wall, results, summary)


def build_summary(results: list[Result], total: int, wall: float, spec: PipelineSpec, plan: Plan) -> dict:
    """The content of summary.json: counts, throughput, device, precision, where the inputs were
    decoded (files per device, and per reason for a CUDA decode that ran on the CPU), pipeline,
    bundles, seconds per stage."""
    import torch

    from avseq.devices import resolve_device

    counts = {s: sum(r.status == s for r in results) for s in ("ok", "failed", "skipped")}
    counts["total"], counts["not_run"] = total, total - len(results)
    done = [r for r in results if r.status != "skipped"]
    media = sum(r.duration or 0.0 for r in done if r.status == "ok")
    stage_totals: dict[str, float] = {}
    for r in done:
        for k, v in r.timings.items():
            stage_totals[k] = round(stage_totals.get(k, 0.0) + v, 4)
    summary = {
        "counts": counts,
        "wall_seconds": round(wall, 4),
        "files_per_second": round(len(done) / wall, 4) if wall > 0 else None,
        "media_seconds_per_second": round(media / wall, 4) if wall > 0 else None,
        "executor": spec.executor,
        "device": str(resolve_device(spec.device)),
        "batch_size": spec.batch_size,
        "precision": spec.precision,
        "stage_precision": plan.precisions(),
        "decode_devices": dict(Counter(r.decode_device for r in done if r.decode_device)),
        "decode_fallbacks": dict(Counter(r.decode_fallback for r in done if r.decode_fallback)),
        "workers": spec.workers,
        "cpu_threads": torch.get_num_threads(),
        "pipeline": spec.path,
        "bundles": plan.bundle_versions(),
        "stage_seconds": stage_totals,
    }
    if (domain := domain_counts(results)) is not None:  # inputs in and out of the bundles' domain
        summary["domain"] = domain
    return summary
