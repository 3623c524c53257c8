"""``avseq synth``: generate clips of the synthetic audio-visual world with a manifest."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "-o",
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (manifest <split>.jsonl and clips under <split>/).",
)
@click.option(
    "--split",
    type=click.Choice(["train", "val", "test"]),
    default="train",
    show_default=True,
    help="Split; each uses its own disjoint seed range.",
)
@click.option("--n", "n", type=click.IntRange(min=0), default=200, show_default=True, help="Number of clips.")
@click.option(
    "--seed-offset",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="First seed within the split's range.",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a SynthConfig field (lists comma-separated), e.g. --set width=64 "
    "--set materials=metal,wood. Keys: width, height, fps, min_duration, max_duration, "
    "sample_rate, shapes, colours, materials, actions, max_count, distractor_prob, "
    "noise_prob, noise_level, captions_per_clip, crf.",
)
@click.option("--silent-copy", is_flag=True, help="Also write each clip without audio (demo inputs).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes rendering in parallel.",
)
def synth(
    out_dir: Path,
    split: str,
    n: int,
    seed_offset: int,
    settings: tuple[str, ...],
    silent_copy: bool,
    workers: int,
) -> None:
    """Render N synthetic clips (H.264 + AAC) and write OUT/<split>.jsonl.

    Reruns resume: finished clips are kept.
    """
    from avseq.data.synth import SynthConfig, generate_split

    config = SynthConfig().with_overrides(list(settings))
    manifest = generate_split(out_dir, split, n, config, seed_offset, silent_copy, workers=workers)
    click.echo(str(manifest))
