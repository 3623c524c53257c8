"""Writing one input's outputs: sinks into a staging folder, then one rename into place.

``OUTDIR/<id>/`` therefore appears only complete: a kill at any moment leaves
either nothing, or a stale ``OUTDIR/.staging`` entry that the next run removes.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avseq.errors import MediaError
from avseq.pipeline.domain import DomainScore, file_domain
from avseq.pipeline.ids import short_hash
from avseq.pipeline.inputs import InputItem
from avseq.pipeline.plan import Plan
from avseq.pipeline.results import Result
from avseq.pipeline.stages import FileInfo
from avseq.pipeline.stages.labels import top_labels
from avseq.pipeline.workers import FileDone

STAGING = ".staging"


@dataclass
class FileState:
    """An input in flight: its windows' kept pieces (by window index) and timings so far."""

    item: InputItem
    pieces: dict[int, dict[str, Any]] = field(default_factory=dict)
    bounds: dict[int, tuple[float, float]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    domain: dict[int, list[DomainScore]] = field(default_factory=dict)  # by window index
    done: FileDone | None = None
    failed: bool = False

    @property
    def complete(self) -> bool:
        return self.done is not None and len(self.pieces) == self.done.windows

    def add_timings(self, timings: dict[str, float]) -> None:
        for k, v in timings.items():
            self.timings[k] = self.timings.get(k, 0.0) + v

    def decoded_on(self, result: Result) -> Result:
        """``result`` with where this input's frames were decoded, once its decode has finished."""
        where = self.done.decoded_on if self.done is not None else None
        if where is not None:
            result.decode_device, result.decode_fallback = where.device, where.fallback
        return result


def clear_staging(outdir: Path) -> None:
    """Remove leftovers of an interrupted run (their inputs are redone); a symlink is unlinked."""
    staging = outdir / STAGING
    if staging.is_symlink():
        staging.unlink()
    shutil.rmtree(staging, ignore_errors=True)


def finalize(plan: Plan, outdir: Path, state: FileState) -> Result:
    """Run the sinks for ``state`` into a staging folder and move it to ``outdir/<id>``.

    Raises whatever a sink raises (an OSError, e.g. a full disk, as MediaError naming
    ``outdir/<id>``); the staging folder is removed in that case.
    """
    item, done = state.item, state.done
    staging = outdir / STAGING / short_hash(item.id, 16)
    shutil.rmtree(staging, ignore_errors=True)
    windows = [state.pieces[i] for i in range(done.windows)]
    info = FileInfo(item.path, done.duration, [state.bounds[i] for i in range(done.windows)], done.pts)
    timings = dict(state.timings)
    outputs: dict[str, str] = {}
    try:
        staging.mkdir(parents=True)
        for sink in plan.sinks:
            start = time.perf_counter()
            inputs = [[w[i] for w in windows] for i in sink.input]
            for key, name in plan.objects[sink.id].write(staging, inputs, info).items():
                outputs[key] = f"{item.id}/{name}"
            timings[sink.id] = time.perf_counter() - start
        _move_into_place(staging, outdir / item.id, outdir)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise MediaError(outdir / item.id, f"cannot write outputs ({' '.join(str(err).split())})") from err
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    captions = [w[sid] for sid in plan.keep if plan.kind(sid) == "text" for w in windows]
    labels = {}
    for sid in (s for s in plan.keep if plan.kind(s) == "labels"):
        labels.update(top_labels([w[sid] for w in windows], info))
    domain = file_domain(state.domain.get(i, []) for i in range(done.windows))
    result = Result(
        item.id, str(item.path), "ok", None, outputs, captions, labels, **domain,
        duration=round(done.duration, 4), timings=timings,
    )  # fmt: skip
    return state.decoded_on(result)


def _refuse_symlinked_folders(target: Path, outdir: Path) -> None:
    """Raise MediaError when a folder between ``outdir`` and ``target`` is a symlink (it may lead outside)."""
    for parent in reversed(target.relative_to(outdir).parents[:-1]):
        if (outdir / parent).is_symlink():
            raise MediaError(outdir / parent, "is a symlink; refusing to write outputs through it")


def _move_into_place(staging: Path, target: Path, outdir: Path) -> None:
    _refuse_symlinked_folders(target, outdir)
    if target.is_symlink():  # replace the link itself, never what it points to
        target.unlink()
    if target.exists():
        trash = outdir / STAGING / f"old-{short_hash(str(target), 16)}"
        shutil.rmtree(trash, ignore_errors=True)
        os.replace(target, trash)
        shutil.rmtree(trash, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, target)
    _fsync_dir(target.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
