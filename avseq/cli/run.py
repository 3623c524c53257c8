"""``avseq run`` and ``avseq validate``: thin commands over :mod:`avseq.pipeline`.

Exit codes of ``run``: 0 every input ok (or skipped as already done), 1 some
input failed, 2 the pipeline file, an option or an input argument is unusable.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

OVERRIDE_HELP = "Override a pipeline key: stages.<id>.params.<key>=VALUE or e.g. batch_size=4 (repeatable)."


class BatchSize(click.ParamType):
    """A positive int, or ``auto`` (the most clips that fit the model device's free memory)."""

    name = "N|auto"

    def convert(self, value, param, ctx):
        if value == "auto" or (isinstance(value, int) and value >= 1):
            return value
        if isinstance(value, str) and value.isdigit() and int(value) >= 1:
            return int(value)
        self.fail(f"{value!r} is not a positive int or auto", param, ctx)


def _spec(pipeline: str, overrides: tuple[str, ...]):
    from avseq.pipeline import load_pipeline

    return load_pipeline(pipeline, list(overrides))


@click.command()
@click.argument("pipeline", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=OVERRIDE_HELP)
def validate(pipeline: str, overrides: tuple[str, ...]) -> None:
    """Check PIPELINE (and --set overrides) without touching any file; print the resolved graph."""
    from avseq.pipeline import describe

    spec = _spec(pipeline, overrides)
    click.echo(describe(spec))
    click.echo("ok")


@click.command()
@click.argument("pipeline", type=click.Path(dir_okay=False))
@click.option(
    "-i",
    "--input",
    "inputs",
    multiple=True,
    required=True,
    help="File, folder, glob or JSONL manifest (repeatable).",
)
@click.option(
    "-o", "--output", "outdir", required=True, type=click.Path(file_okay=False), help="Output folder."
)
@click.option("--device", help="Device for stages without their own: auto, cpu, cuda, cuda:N.")
@click.option(
    "--batch-size",
    type=BatchSize(),
    help="Clips per model batch, or auto (as many as the GPU's memory holds).",
)
@click.option(
    "--precision",
    type=click.Choice(["auto", "fp32", "bf16", "fp16"]),
    help="Model stages' autocast: auto (bf16/fp16 on cuda, fp32 on cpu), fp32, bf16 or fp16.",
)
@click.option("--workers", type=click.IntRange(min=1), help="Decode worker processes.")
@click.option(
    "--memory",
    metavar="SIZE",
    help="Decoded media held at once, e.g. 512MiB or 2GB (the pipeline's memory:; default 512MiB).",
)
@click.option(
    "--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds allowed to decode one file."
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    help="Where to run: this machine (local) or a Ray cluster (ray; pip install 'avseq[ray]').",
)
@click.option("--address", help="Ray cluster address for --executor ray (auto, HOST:6379, ray://HOST:10001).")
@click.option("--limit", type=click.IntRange(min=0), help="Process only the first N inputs.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=OVERRIDE_HELP)
@click.option("--overwrite", is_flag=True, help="Redo inputs whose outputs are already complete.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first failed input.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def run(
    pipeline,
    inputs,
    outdir,
    device,
    batch_size,
    precision,
    workers,
    memory,
    timeout,
    executor,
    address,
    limit,
    overrides,
    overwrite,
    fail_fast,
    quiet,
):
    """Run PIPELINE over the inputs, writing OUTDIR/<id>/..., results.jsonl and summary.json."""
    from avseq.pipeline import expand_inputs, run_pipeline
    from avseq.pipeline.domain import domain_warning

    options = {"device": device, "batch_size": batch_size, "workers": workers, "timeout": timeout}
    options |= {"precision": precision}
    options |= {"memory": memory}
    options |= {"executor": executor}
    extra = [f"{k}={v}" for k, v in options.items() if v is not None]
    spec = _spec(pipeline, (*overrides, *extra))
    if address is not None:
        if spec.executor != "ray":
            raise click.UsageError(
                f"--address {address!r} is for --executor ray (the executor is {spec.executor})"
            )
        spec.ray.address = address
    items = expand_inputs(list(inputs), limit=limit, exclude=outdir)
    result = run_pipeline(
        spec, items, Path(outdir), overwrite=overwrite, fail_fast=fail_fast, progress=not quiet
    )
    c = result.counts
    if not quiet:
        click.echo(
            f"{c['ok']} ok, {c['failed']} failed, {c['skipped']} skipped of {c['total']} in "
            f"{result.wall_seconds:.1f} s -> {outdir}",
            err=True,
        )
    if warning := domain_warning(result.summary.get("domain")):  # once per run, --quiet or not
        click.echo(f"warning: {warning}", err=True)
    sys.exit(result.exit_code)
