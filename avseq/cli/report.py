"""``avseq report OUTDIR``: (re)write the HTML report of a run or a training run and print its path."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--pipeline",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Pipeline file to show [default: the one summary.json names].",
)
def report(outdir: Path, pipeline: Path | None) -> None:
    """Write OUTDIR/report.html and print its path.

    OUTDIR is an `avseq run` output folder (results.jsonl) or a training run
    folder (a CSV log with step and loss columns).
    """
    from avseq.report import write_report, write_training_report

    if not (outdir / "results.jsonl").is_file() and any(outdir.glob("*.csv")):
        path = write_training_report(outdir)
    else:
        path = write_report(outdir, pipeline=pipeline)
    click.echo(str(path))
