"""``avseq train CONFIG [--set key=value ...] [--resume] [-o RUN_DIR]``: train a model from a config."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config key, e.g. optim.lr=3e-4.",
)
@click.option("--resume", is_flag=True, help="Continue the run in RUN_DIR from its last checkpoint.")
@click.option(
    "-o", "--output", "run_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Run folder (default: the config's output_dir).",
)  # fmt: skip
@click.option("--stop-at", type=click.IntRange(min=1), help="Stop after this step (resume later to finish).")
def train(
    config: Path, overrides: tuple[str, ...], resume: bool, run_dir: Path | None, stop_at: int | None
) -> None:
    """Train the model CONFIG describes; print the run's summary as JSON.

    The run folder gets config.yaml, log.csv, curves.png, summary.json and
    checkpoints; `best` and `last` point at bundles usable by `avseq eval` and
    pipelines (RUN_DIR/best/bundle). For several GPUs or machines launch it with
    torchrun: `torchrun --nproc_per_node N -m avseq train CONFIG` (docs/distributed.md).
    """
    from avseq.train import load_config
    from avseq.train import train as run_training
    from avseq.train.distributed import is_main

    cfg = load_config(config, list(overrides))
    result = run_training(cfg, run_dir, resume=resume, stop_at=stop_at)
    if not is_main():  # under torchrun, rank 0 reports for the run
        return
    summary = result.run_dir / "summary.json"
    click.echo(summary.read_text() if summary.is_file() else json.dumps({"run_dir": str(result.run_dir)}))
