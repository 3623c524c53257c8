"""The end-to-end demo: synthetic clips -> caption_and_sound pipeline -> scores -> HTML report.

A job of its own over the parts that do the work: the synthetic world (``avseq.data.synth``)
makes the clips, the pipeline (``avseq.pipeline``) runs, ``avseq.report.scoring`` scores the
run against the known answers and ``avseq.report`` writes the page.

Without inputs it renders a dozen clips of the synthetic world (the silent
copies are the pipeline's inputs; the originals and their captions are the
references). With inputs it runs on them instead, scoring only what a JSONL
manifest among them provides references for.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avseq import shipped
from avseq.errors import BundleError, ConfigError
from avseq.report import write_report
from avseq.report.scoring import Reference, references_from_manifest, score_run

DEMO_CLIPS = 12
DEMO_SPLIT = "test"
PIPELINE_NAME = "caption_and_sound"
MANIFEST_SUFFIXES = (".jsonl",)  # what `avseq run -i` reads as a manifest
HEADLINE = ("BLEU-4", "CIDEr", "attribute accuracy", "onset F1")  # scores in the one-line summary


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its report, what happened to the clips and how well they scored.

    domain: the run's domain check (summary.json ``domain``: inputs in and out of the domain the
    bundles were trained on), None when unchecked."""

    report: Path
    counts: dict[str, int]
    wall_seconds: float
    scores: dict[str, Any] = field(default_factory=dict)
    domain: dict[str, Any] | None = None

    def summary_line(self) -> str:
        """One line: clip counts, time, and the headline scores when there are references."""
        c = self.counts
        line = f"{c.get('ok', 0)} ok, {c.get('failed', 0)} failed, {c.get('skipped', 0)} skipped"
        line += f" in {self.wall_seconds:.1f} s"
        shown = [f"{k} {v:.3f}" for k, v in self.scores.items() if k in HEADLINE and isinstance(v, float)]
        return line + (f"; {', '.join(shown)}" if shown else "")


def default_pipeline() -> Path:
    """The shipped pipelines/caption_and_sound.yaml (:mod:`avseq.shipped`)."""
    return shipped.resolve_shipped("pipeline", PIPELINE_NAME)


def run_demo(
    outdir: str | Path,
    *,
    inputs: Sequence[str | Path] = (),
    n: int = DEMO_CLIPS,
    pipeline: str | Path | None = None,
    overrides: Sequence[str] = (),
    progress: bool = True,
) -> DemoResult:
    """Run the demo into ``outdir`` (``OUTDIR/<id>/``, results, summary, report.html).

    inputs: files, folders, globs or manifests to use instead of ``n`` generated
    clips (written under ``OUTDIR/inputs/``). pipeline / overrides: the pipeline
    file or shipped pipeline name (default :func:`default_pipeline`) and ``key=value`` overrides. Reruns
    resume: finished clips are kept.
    """
    from avseq.pipeline import load_pipeline, run_pipeline

    if n < 1:
        raise ConfigError(f"Invalid number of demo clips {n!r}: must be >= 1")
    start = time.perf_counter()
    outdir = Path(outdir)
    pipeline = shipped.resolve("pipeline", pipeline) if pipeline is not None else default_pipeline()
    spec = load_pipeline(pipeline, list(overrides))
    if inputs:
        items, references = _given_inputs(inputs)
    else:
        items, references = _generated_inputs(outdir / "inputs", n, trained_world(spec), progress)
    run = run_pipeline(spec, items, outdir, progress=progress)
    scores = score_run(outdir, references) if references else {}
    report = write_report(outdir, pipeline=pipeline)
    return DemoResult(report, run.counts, time.perf_counter() - start, scores, run.summary.get("domain"))


def trained_world(spec: Any) -> Any:
    """The SynthConfig the pipeline's bundles were trained on, so demo clips look like their data.

    Read from the first bundle whose meta records ``train_config.data.synth`` (only its
    bundle.json is read); the default SynthConfig when none does.
    """
    from avseq.bundles import resolve
    from avseq.bundles.document import read_document
    from avseq.data.synth import SynthConfig

    for stage in spec.stages:
        name = getattr(stage.params, "bundle", None)
        if not name:
            continue
        meta = read_document(resolve(name)).get("meta") or {}
        synth = ((meta.get("train_config") or {}).get("data") or {}).get("synth")
        if isinstance(synth, dict) and synth:
            fields = {k: tuple(v) if isinstance(v, list) else v for k, v in synth.items()}
            try:
                return SynthConfig(**fields)
            except TypeError as err:
                raise BundleError(
                    f"{name}: meta train_config.data.synth does not fit SynthConfig ({err})"
                ) from None
    return SynthConfig()


def _generated_inputs(folder: Path, n: int, world: Any, progress: bool) -> tuple[list, dict[str, Reference]]:
    """Render ``n`` clips of ``world``; inputs are their silent copies, references the originals."""
    from avseq.data.manifest import read_manifest
    from avseq.data.synth import generate_split
    from avseq.pipeline import InputItem

    manifest = generate_split(folder, DEMO_SPLIT, n, world, silent_copy=True, progress=progress)
    entries = read_manifest(manifest)
    by_path = references_from_manifest(entries)
    items = [InputItem(e.id, Path(e.silent_path)) for e in entries]
    return items, {e.id: by_path[Path(e.path).resolve()] for e in entries}


def _given_inputs(inputs: Sequence[str | Path]) -> tuple[list, dict[str, Reference]]:
    """Expand ``-i`` arguments; manifests among them give references for their clips."""
    from avseq.data.manifest import read_manifest
    from avseq.pipeline import expand_inputs

    items = expand_inputs(list(inputs))
    by_path: dict[Path, Reference] = {}
    for arg in inputs:
        if Path(arg).suffix.lower() in MANIFEST_SUFFIXES and Path(arg).is_file():
            by_path.update(references_from_manifest(read_manifest(arg)))
    return items, {i.id: by_path[i.path.resolve()] for i in items if i.path.resolve() in by_path}
