"""From a source's clips to manifests: probe every file in parallel, leave out (and report) the
ones that cannot be trained on, write ``<split>.jsonl`` for train, val and test.

Files written in ``out_dir`` (each atomically):

- ``train.jsonl``, ``val.jsonl``, ``test.jsonl``: :mod:`avseq.data.manifest` lines with the probed
  ``duration``, ``fps``, ``size_bytes``, ``has_audio`` and ``sample_rate`` (a split with no clip is
  an empty file, so an older manifest of that split never lingers);
- ``report.jsonl``: one line per clip left out, ``{"id", "split", "path", "reason", "message"}``
  (``reason`` is one of :data:`~avseq.data.sources.base.Reason`; ``path`` is null when no file was
  found);
- ``summary.json``: the source, the checks, clips per split and clips left out per reason.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from avseq.data.manifest import ManifestEntry, write_manifest
from avseq.data.sources.base import Clip, Problem
from avseq.data.sources.probing import Checks, Facts, inspect_clip
from avseq.data.sources.splits import SPLITS
from avseq.errors import ConfigError
from avseq.io.atomic import write_text_atomic

REPORT_NAME = "report.jsonl"
SUMMARY_NAME = "summary.json"


@dataclass(frozen=True)
class LeftOut:
    """One clip left out of the manifests, as a line of ``report.jsonl``."""

    id: str
    split: str
    path: str | None
    reason: str
    message: str


@dataclass(frozen=True)
class BuildResult:
    """What :func:`build_manifests` wrote: manifest per split, clips kept per split, clips left out."""

    source: str
    out_dir: Path
    manifests: dict[str, Path]
    counts: dict[str, int]
    left_out: list[LeftOut]

    @property
    def kept(self) -> int:
        return sum(self.counts.values())

    @property
    def reasons(self) -> dict[str, int]:
        """Clips left out per reason, most frequent first."""
        return dict(Counter(r.reason for r in self.left_out).most_common())

    def summary_line(self) -> str:
        """One line: clips per split and where the manifests are."""
        splits = ", ".join(f"{s} {self.counts[s]}" for s in SPLITS)
        return f"{self.source}: {self.kept} clips ({splits}) in {self.out_dir}/{{{','.join(SPLITS)}}}.jsonl"

    def left_out_line(self) -> str:
        """One line: clips left out per reason and where the report is ('' when none)."""
        if not self.left_out:
            return ""
        reasons = ", ".join(f"{n} {reason}" for reason, n in self.reasons.items())
        return f"{len(self.left_out)} clips left out ({reasons}): see {self.out_dir / REPORT_NAME}"


def build_manifests(
    source: str,
    clips: list[Clip],
    out_dir: str | Path,
    checks: Checks,
    *,
    workers: int = 1,
    on_start: Callable[[int], None] | None = None,
    on_clip: Callable[[bool], None] | None = None,
) -> BuildResult:
    """Probe ``clips`` (``workers`` processes), write the manifests, report and summary in ``out_dir``.

    For a progress bar: on_start(n) is called once with the number of files to probe, then
    on_clip(kept) once per probed file, in order. Clips the source already rejected, and second
    clips with an id already taken, are reported without probing.
    """
    if workers < 1:
        raise ConfigError(f"Invalid workers {workers!r}: must be >= 1")
    for clip in clips:
        if clip.split not in SPLITS and clip.problem is None:
            raise ValueError(f"clip {clip.id!r}: split {clip.split!r} is not one of {', '.join(SPLITS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clips, left_out = _unique(clips)
    to_probe = [c for c in clips if c.problem is None]
    left_out += [_left_out(c, c.problem) for c in clips if c.problem is not None]
    if on_start is not None:
        on_start(len(to_probe))
    entries: dict[str, list[ManifestEntry]] = {s: [] for s in SPLITS}
    for clip, result in zip(to_probe, _probe_all(to_probe, checks, workers), strict=True):
        if isinstance(result, Problem):
            left_out.append(_left_out(clip, result))
        else:
            entries[clip.split].append(_entry(clip, result))
        if on_clip is not None:
            on_clip(isinstance(result, Facts))
    order = {c.id: i for i, c in enumerate(clips)}
    left_out.sort(key=lambda r: order.get(r.id, len(order)))
    manifests = {s: write_manifest(out_dir / f"{s}.jsonl", entries[s]) for s in SPLITS}
    result = BuildResult(source, out_dir, manifests, {s: len(entries[s]) for s in SPLITS}, left_out)
    _write_report(out_dir / REPORT_NAME, left_out)
    _write_summary(out_dir / SUMMARY_NAME, result, checks)
    return result


def _unique(clips: list[Clip]) -> tuple[list[Clip], list[LeftOut]]:
    seen: dict[str, Clip] = {}
    dupes = []
    for clip in clips:
        if clip.id in seen:
            where = seen[clip.id].path or "a clip the annotations name"
            dupes.append(_left_out(clip, Problem("duplicate", f"id {clip.id!r} is taken by {where}")))
        else:
            seen[clip.id] = clip
    return list(seen.values()), dupes


def _probe_all(clips: list[Clip], checks: Checks, workers: int) -> Iterator[Facts | Problem]:
    """Results of :func:`inspect_clip` for ``clips``, in order; a pool of ``workers`` processes.

    Forked like the pipeline's decode workers: nothing here has imported torch."""
    paths = [c.path for c in clips]
    if workers == 1 or len(paths) < 2:
        yield from (inspect_clip(p, checks) for p in paths)
        return
    n = min(workers, len(paths))
    with ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("fork")) as pool:
        yield from pool.map(inspect_clip, paths, [checks] * len(paths), chunksize=4)


def _entry(clip: Clip, facts: Facts) -> ManifestEntry:
    return ManifestEntry(
        path=clip.path.absolute(),  # a symlink stays the path the user gave
        id=clip.id,
        split=clip.split,
        captions=clip.captions,
        events=clip.events,
        duration=facts.duration,
        fps=facts.fps,
        sample_rate=facts.sample_rate,
        attributes=dict(clip.attributes),
        size_bytes=facts.size_bytes,
        has_audio=facts.has_audio,
    )


def _left_out(clip: Clip, problem: Problem) -> LeftOut:
    path = str(clip.path) if clip.path is not None else None
    return LeftOut(clip.id, clip.split, path, problem.reason, problem.message)


def _write_report(path: Path, left_out: list[LeftOut]) -> None:
    lines = [json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in left_out]
    write_text_atomic(path, "".join(lines))


def _write_summary(path: Path, result: BuildResult, checks: Checks) -> None:
    doc = {
        "source": result.source,
        "checks": asdict(checks),
        "clips": result.counts,
        "left_out": result.reasons,
        "manifests": {s: os.path.basename(p) for s, p in result.manifests.items()},
        "report": REPORT_NAME,
    }
    write_text_atomic(path, json.dumps(doc, indent=2) + "\n")
