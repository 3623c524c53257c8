"""``avseq eval BUNDLE --data MANIFEST [--split test] [-o report.json]``: score a bundle and baselines."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("bundle")
@click.option(
    "--data", required=True, type=click.Path(exists=True, path_type=Path),
    help="A manifest, or a folder of <split>.jsonl manifests (as `avseq synth` writes).",
)  # fmt: skip
@click.option("--split", default="test", show_default=True, help="Split to evaluate.")
@click.option(
    "-o", "--output", "report", default="report.json", show_default=True,
    type=click.Path(dir_okay=False, path_type=Path), help="Report file; per-clip outputs go beside it.",
)  # fmt: skip
@click.option(
    "--train-data", type=click.Path(exists=True, path_type=Path),
    help="Training clips for the baselines (default: train.jsonl beside the evaluated manifest).",
)  # fmt: skip
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate only the first N clips.")
@click.option(
    "--baseline-clips", type=click.IntRange(min=1), help="Use at most N training clips for baselines."
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option(
    "--beam-size", type=click.IntRange(min=1), help="Caption beam size (default: the training one)."
)
@click.option(
    "--rerank",
    type=click.Choice(["score", "consensus"]),
    help="Caption choice among the beam: its best score, or the consensus of its hypotheses "
    "(default: the training one).",
)
@click.option(
    "--baseline-encoder",
    help="A bundle (path or bundled name) whose encoder, with its own preprocessing, finds the "
    "nearest-neighbour baselines' training clips, instead of the evaluated bundle's: one fixed "
    "baseline for models compared with each other.",
)
@click.option(
    "--feature-cache", default="auto", show_default=True,
    help="Folder where the training clips' features by the retrieving encoder are read and stored, "
    "so a second evaluation decodes no training clip (nor the first after training: a run stores "
    "its frozen encoder's there). auto: the one the bundle's training run kept, when the baselines use "
    "its training manifest, else feature_cache beside that manifest; off: none.",
)  # fmt: skip
@click.option("--quiet", is_flag=True, help="No progress bars.")
def evaluate(
    bundle: str,
    data: Path,
    split: str,
    report: Path,
    train_data: Path | None,
    limit: int | None,
    baseline_clips: int | None,
    device: str,
    beam_size: int | None,
    rerank: str | None,
    baseline_encoder: str | None,
    feature_cache: str,
    quiet: bool,
) -> None:
    """Evaluate BUNDLE (a path or bundled name) against baselines; print a side-by-side table."""
    from avseq.devices import resolve_device
    from avseq.evaluation import evaluate_bundle, summary_table

    result = evaluate_bundle(
        bundle, data, report, split=split, train_data=train_data, limit=limit,
        baseline_clips=baseline_clips, device=resolve_device(device, "--device"),
        beam_size=beam_size, rerank=rerank,
        baseline_encoder=baseline_encoder, progress=not quiet,
        feature_cache=None if feature_cache == "off" else feature_cache,
    )  # fmt: skip
    click.echo(summary_table(result))
    for note in result["notes"]:
        click.echo(f"note: {note}")
    click.echo(f"report: {report}")
