"""What runs on the Ray workers: decode a file, run the models on a batch of files, write a file.

Each step reuses the local executor's mechanism for the same job: decoding goes through a
one-process :class:`~avseq.pipeline.workers.DecodePool` (so the per-file timeout and a crashing
decoder fail only that file), the models through :func:`~avseq.pipeline.batching.run_batch`
and the sinks through :func:`~avseq.pipeline.finalize.finalize`. Nothing here imports Ray.

A file travels between the steps as one dataset row ``{"key": int, "blob": bytes}``, the blob
being a pickled :class:`InFlight` (plain pickle copies tensor data, as the decode workers do).
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from avseq.devices import resolve_device
from avseq.pipeline.autobatch import resolve_batch_size
from avseq.pipeline.batching import ClipResult, run_batch
from avseq.pipeline.finalize import FileState, finalize
from avseq.pipeline.inputs import InputItem
from avseq.pipeline.memory import available_cores
from avseq.pipeline.plan import build_plan
from avseq.pipeline.results import Result
from avseq.pipeline.spec import PipelineSpec
from avseq.pipeline.stages import make_decoder
from avseq.pipeline.workers import DecodePool, FileDone, Window


@dataclass
class InFlight:
    """One input between Ray steps: its state, its decoded windows (until the models ran), or its failure.

    meta: what the model actor reports about itself: device, bundles, cpu_threads.
    """

    state: FileState
    windows: list[Window] = field(default_factory=list)
    failure: Result | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def fail(self, result: Result) -> None:
        self.failure, self.windows = result, []
        self.state.pieces.clear()


def pack(obj: Any) -> bytes:
    """Pickle ``obj`` for a dataset row."""
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def item_row(key: int, item: InputItem) -> dict[str, Any]:
    """The dataset row of one input: ``{"key", "id", "path"}``."""
    return {"key": key, "id": item.id, "path": str(item.path)}


def decode_row(row: dict[str, Any], spec: PipelineSpec) -> list[dict[str, Any]]:
    """Ray ``flat_map`` step (a CPU task): one input row -> one row holding its decoded windows."""
    item = InputItem(str(row["id"]), Path(row["path"]))
    return [{"key": row["key"], "blob": pack(decode_file(item, spec))}]


def decode_file(item: InputItem, spec: PipelineSpec) -> InFlight:
    """Decode every window of ``item`` in a child process with the pipeline's per-file timeout."""
    plan = build_plan(spec, roles=("source",))
    decoder = make_decoder(plan, busy_workers=available_cores())  # a task decodes on one core
    flight = InFlight(FileState(item))
    with DecodePool(decoder, 1, spec.timeout, prefetch=2) as pool:
        pool.start([(0, item.path)])
        for msg in pool.events():
            if isinstance(msg, Window):
                flight.windows.append(msg)
                flight.state.bounds[msg.index] = (msg.start, msg.end)
            elif isinstance(msg, FileDone):
                flight.state.done = msg
                flight.state.add_timings({"decode": msg.seconds})
            else:
                error = {"type": msg.error_type, "message": msg.message}
                flight.fail(Result(item.id, str(item.path), "failed", error, timings={"decode": msg.seconds}))
    return flight


class ModelActor:
    """Ray actor (map_batches callable class): loads the batch stages once, runs them per batch.

    A batch is up to ``spec.batch_size`` files; their windows run through the models in
    chunks of ``spec.batch_size`` windows (padded together, as the local executor does; ``auto``
    is measured on the actor's device, and lowered after a chunk runs out of device memory).
    """

    def __init__(self, spec: PipelineSpec) -> None:
        self.plan = build_plan(spec, roles=("batch",))
        self.chunk = resolve_batch_size(self.plan).size
        self.meta = {
            "device": str(resolve_device(spec.device)),
            "bundles": self.plan.bundle_versions(),
            "cpu_threads": torch.get_num_threads(),
        }

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        """``{"key": (N,), "blob": (N,) bytes}`` -> the same keys, each blob with the model outputs."""
        flights = [pickle.loads(b) for b in batch["blob"]]
        self.run(flights)
        return {"key": list(batch["key"]), "blob": [pack(f) for f in flights]}

    def run(self, flights: list[InFlight]) -> None:
        """Fill each file's pieces and timings from the models, or fail it alone."""
        windows = []
        for i, flight in enumerate(flights):
            flight.meta = self.meta
            for w in flight.windows:
                w.key = i
                windows.append(w)
        start = 0
        while start < len(windows):
            chunk = windows[start : start + self.chunk]
            for clip in run_batch(self.plan, chunk):
                _take(flights[clip.window.key], clip)
                self.chunk = min(self.chunk, clip.fitted or self.chunk)
            start += len(chunk)
        for flight in flights:
            flight.windows = []


def _take(flight: InFlight, clip: ClipResult) -> None:
    """Keep one window's pieces and timings, or fail its file (once)."""
    state = flight.state
    if flight.failure is not None:
        return
    if clip.error is not None:
        failure = Result.failure(state.item.id, str(state.item.path), clip.error, state.timings)
        flight.fail(state.decoded_on(failure))
        return
    state.pieces[clip.window.index] = clip.pieces
    state.domain[clip.window.index] = clip.domain
    state.add_timings(clip.timings)


def write_row(row: dict[str, Any], spec: PipelineSpec, outdir: str) -> dict[str, Any]:
    """Ray ``map`` step (a CPU task): run the sinks of one file into ``outdir``; its Result as a row.

    ``meta`` is the JSON of the model actor's :attr:`InFlight.meta` (device and bundles).
    """
    flight: InFlight = pickle.loads(row["blob"])
    result = flight.failure
    if result is None:
        state = flight.state
        try:
            result = finalize(build_plan(spec, roles=("sink",)), Path(outdir), state)
        except Exception as err:  # a sink failure fails this file only
            result = Result.failure(state.item.id, str(state.item.path), err, state.timings)
    return {"key": row["key"], "blob": pack(result), "meta": json.dumps(flight.meta)}
