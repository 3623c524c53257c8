"""``avseq demo``: generated clips -> captions + sound -> HTML report, in one command."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "-o",
    "--output",
    "outdir",
    default="demo_out",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder.",
)
@click.option(
    "-i",
    "--input",
    "inputs",
    multiple=True,
    help="Run on these clips (file, folder, glob or JSONL manifest; repeatable) instead of generated ones.",
)
@click.option(
    "-n",
    "--clips",
    "n",
    type=click.IntRange(min=1),
    default=12,
    show_default=True,
    help="Number of synthetic clips to generate (without -i).",
)
@click.option(
    "--pipeline",
    help="Pipeline file or shipped pipeline name (`avseq pipelines`) [default: caption_and_sound].",
)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a pipeline key.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def demo(outdir: Path, inputs: tuple[str, ...], n: int, pipeline: str | None, overrides, quiet: bool) -> None:
    """Caption and sonify a dozen synthetic clips (or -i clips) and write an HTML report."""
    from avseq.demo import run_demo
    from avseq.pipeline.domain import domain_warning

    result = run_demo(outdir, inputs=inputs, n=n, pipeline=pipeline, overrides=overrides, progress=not quiet)
    click.echo(f"report: {result.report}")
    click.echo(result.summary_line())
    if warning := domain_warning(result.domain):  # e.g. -i with real footage and the synthetic models
        click.echo(f"warning: {warning}", err=True)
