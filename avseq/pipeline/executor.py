"""The local executor: decode workers -> batched model stages -> per-file sinks -> results.

Memory stays flat: a model batch takes at most ``batch_size`` windows and the run's batch
budget in bytes, the decode queue holds ``2 * batch_size`` windows and its budget in bytes
(:mod:`avseq.pipeline.memory`), and at most ``workers`` files are being decoded. Sinks run in
one writer thread so file writing overlaps compute. ``batch_size: auto`` is measured once the
models are loaded (:mod:`avseq.pipeline.autobatch`); a batch that runs out of device memory is
run in halves, and the batches after it are no larger than the part that fitted.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from avseq.io.heap import give_back_large_blocks
from avseq.pipeline.autobatch import MAX_BATCH, BatchSize, resolve_batch_size
from avseq.pipeline.batching import ClipResult, run_batch
from avseq.pipeline.finalize import FileState, finalize
from avseq.pipeline.inputs import InputItem
from avseq.pipeline.memory import MemoryBudget, MiB, available_cores, peak_rss_bytes
from avseq.pipeline.outdir_lock import output_folder_lock
from avseq.pipeline.plan import Plan, build_plan
from avseq.pipeline.progress import Progress
from avseq.pipeline.recorder import RunRecorder, RunSummary
from avseq.pipeline.results import Result
from avseq.pipeline.spec import PipelineSpec
from avseq.pipeline.stages import make_decoder
from avseq.pipeline.workers import DecodePool, FileDone, FileFailed, Window

MAX_PENDING_WRITES = 4


def run_pipeline(
    spec: PipelineSpec,
    inputs: list[InputItem],
    outdir: str | Path,
    *,
    overwrite: bool = False,
    fail_fast: bool = False,
    progress: bool = True,
) -> RunSummary:
    """Run ``spec`` over ``inputs``, writing ``outdir/<id>/...``, results.jsonl and summary.json.

    Inputs whose outputs are complete from an earlier run are skipped unless
    ``overwrite``. A failing input is recorded and the run goes on, unless
    ``fail_fast``. Raises ConfigError for an unusable spec (before writing anything).
    One run per output folder: OutputFolderBusyError (a ConfigError) when another holds ``outdir``.
    ``executor: ray`` runs the same graph on Ray (:mod:`avseq.pipeline.ray_executor`).
    """
    if spec.executor == "ray":
        from avseq.pipeline.ray_executor import run_pipeline_ray  # Ray is imported only here

        return run_pipeline_ray(
            spec, inputs, outdir, overwrite=overwrite, fail_fast=fail_fast, progress=progress
        )
    outdir = Path(outdir)
    plan = build_plan(spec, roles=("source",))  # the models load once the decoders have started
    with output_folder_lock(outdir):  # one run per output folder
        return _run_plan(plan, inputs, outdir, overwrite, fail_fast, progress)


@contextlib.contextmanager
def cpu_threads(spec: PipelineSpec) -> Iterator[None]:
    """Give torch's CPU ops the cores the decode workers leave (``spec.threads`` overrides).

    Oversubscribed intra-op threads spin against the decoders and run several times slower.
    """
    import torch

    cores = available_cores()
    before = torch.get_num_threads()
    torch.set_num_threads(spec.threads or max(1, cores - spec.workers))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run_plan(
    plan: Plan, inputs: list[InputItem], outdir: Path, overwrite: bool, fail_fast: bool, progress: bool
) -> RunSummary:
    start = time.perf_counter()
    run = _Run(plan, outdir, inputs, fail_fast, Progress(len(inputs), enabled=progress))
    run.execute(run.resume(overwrite))
    peaks = {"main": peak_rss_bytes(), "decode_workers": run.worker_peak}
    peak_mb = {k: round(v / MiB, 1) for k, v in peaks.items()}
    return run.finish(
        time.perf_counter() - start,
        peak_rss_mb=max(peak_mb.values()),
        peak_rss_by_process_mb=peak_mb,
        **run.batch_fields(),
    )


class _Run(RunRecorder):
    """State of one local run: files in flight, pending windows, writer futures."""

    def __init__(
        self, plan: Plan, outdir: Path, inputs: list[InputItem], fail_fast: bool, progress: Progress
    ):
        super().__init__(plan, outdir, inputs, fail_fast, progress)
        self.files: dict[int, FileState] = {}
        self.pending: list[Window] = []
        self.writes: deque[tuple[FileState, Future]] = deque()
        self.worker_peak = 0  # bytes: the largest peak resident memory of a decode worker
        self.batch: BatchSize | None = None  # resolved once the models are loaded
        self.batch_size = 0  # windows per batch: batch.size, lowered after an out-of-memory error
        self.halved = 0  # batches run again in halves after an out-of-memory error

    def execute(self, todo: list[InputItem]) -> None:
        if not todo:
            self.plan.build(("batch", "sink"))  # the summary names the bundles all the same
            return
        spec = self.plan.spec
        self.files = {k: FileState(item) for k, item in enumerate(todo)}
        busy = min(spec.workers, len(todo))
        budget = MemoryBudget(spec.memory)
        decoder = make_decoder(self.plan, busy)
        prefetch = 2 * (MAX_BATCH if spec.batch_size == "auto" else spec.batch_size)  # bytes bound it too
        pool = DecodePool(decoder, busy, spec.timeout, prefetch=prefetch, max_bytes=budget.queue_bytes)
        with pool, ThreadPoolExecutor(1, thread_name_prefix="avseq-sinks") as writer:
            self.writer = writer
            # The workers fork before this process imports torch (the models' stages import it when
            # they are built), so decoding starts at once and overlaps the import.
            pool.start([(k, s.item.path) for k, s in self.files.items()])
            give_back_large_blocks()  # here, not in the workers: their decoders reuse big frames
            with cpu_threads(spec):
                self.plan.build(("batch", "sink"))  # while the workers decode the first files
                self.batch = resolve_batch_size(self.plan)
                self.batch_size = self.batch.size
                self._consume(pool, budget)
        self.worker_peak = pool.peak_rss

    def _consume(self, pool: DecodePool, budget: MemoryBudget) -> None:
        """Batch the decoded windows through the models and hand finished files to the writer."""
        self.progress.show()
        for msg in pool.events():
            held = sum(w.nbytes for w in self.pending)
            if isinstance(msg, Window) and held and held + msg.nbytes > budget.batch_bytes:
                self._flush()  # a batch stays within its budget
            self._handle(msg)
            if len(self.pending) >= self.batch_size or (self.pending and pool.idle()):
                self._flush()
            self._collect(block=False)
            if self.stopped:
                break
        if not self.stopped:
            self._flush()
        self._collect(block=True)

    def _handle(self, msg: Window | FileDone | FileFailed) -> None:
        state = self.files[msg.key]
        if state.failed:
            return
        if isinstance(msg, Window):
            self.pending.append(msg)
            state.bounds[msg.index] = (msg.start, msg.end)
        elif isinstance(msg, FileDone):
            state.done = msg
            state.add_timings({"decode": msg.seconds})
            self._maybe_finalize(state)
        else:
            error = {"type": msg.error_type, "message": msg.message}
            item = state.item
            self._fail(
                state, Result(item.id, str(item.path), "failed", error, timings={"decode": msg.seconds})
            )

    def _flush(self) -> None:
        windows = [w for w in self.pending if not self.files[w.key].failed]
        self.pending = []
        if not windows:
            return
        clips = run_batch(self.plan, windows)
        self._fit(clips)
        for clip in clips:
            state = self.files[clip.window.key]
            if state.failed:
                continue
            if clip.error is not None:
                self._fail(
                    state, Result.failure(state.item.id, str(state.item.path), clip.error, state.timings)
                )
                continue
            state.pieces[clip.window.index] = clip.pieces
            state.domain[clip.window.index] = clip.domain
            state.add_timings(clip.timings)
            self._maybe_finalize(state)

    def _fit(self, clips: list[ClipResult]) -> None:
        """After an out-of-memory error, keep later batches to the smallest part that fitted."""
        fitted = [c.fitted for c in clips if c.fitted is not None]
        if fitted:
            self.halved += 1
            self.batch_size = min(self.batch_size, min(fitted))

    def batch_fields(self) -> dict:
        """summary.json's batch entries: the batch size used at the end (and how auto chose it),
        and how many batches ran out of device memory and ran again in halves."""
        if self.batch is None:
            return {}
        fields = {"batch_size": self.batch_size, "oom_halved_batches": self.halved}
        return fields | ({"batch_size_auto": self.batch.summary()} if self.batch.auto else {})

    def _maybe_finalize(self, state: FileState) -> None:
        if state.complete:
            if len(self.writes) >= MAX_PENDING_WRITES:
                self._collect(block=True, keep=MAX_PENDING_WRITES - 1)
            self.writes.append((state, self.writer.submit(finalize, self.plan, self.outdir, state)))

    def _collect(self, block: bool, keep: int = 0) -> None:
        while self.writes and (self.writes[0][1].done() or (block and len(self.writes) > keep)):
            state, future = self.writes.popleft()
            try:
                self.record(future.result())
            except Exception as err:
                self._fail(state, Result.failure(state.item.id, str(state.item.path), err, state.timings))
            state.pieces.clear()

    def _fail(self, state: FileState, result: Result) -> None:
        state.failed = True
        state.pieces.clear()
        self.record(state.decoded_on(result))
