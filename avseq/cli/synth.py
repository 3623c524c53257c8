"""``avseq synth``: generate clips of the synthetic audio-visual world with a manifest.

``--level`` picks the world (:mod:`avseq.data.synth.levels`): 1, short clips of one object
(``SynthConfig``); 2, long clips of overlapping events with per-event ground truth
(``Level2Config``). ``--set`` overrides a field of the chosen level's config.
"""

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
@click.option(
    "--level",
    type=click.IntRange(1, 2),
    default=1,
    show_default=True,
    help="World level: 1 = 2-4 s clips of one object and one action; 2 = 20-60 s clips of 3-10 "
    "overlapping events of several objects, occlusion, camera shake and zoom, changing light and "
    "backdrop, ambience, H.264 at user-video quality, ground truth and captions per event.",
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
    help="Override a field of the level's config (lists comma-separated), e.g. --set width=64 "
    "--set materials=metal,wood. Level 1 (SynthConfig) keys: width, height, fps, min_duration, "
    "max_duration, sample_rate, shapes, colours, materials, actions, max_count, distractor_prob, "
    "noise_prob, noise_level, captions_per_clip, crf. Level 2 (Level2Config) adds strikers, "
    "min_events, max_events, min_objects, max_objects, overlap_prob, drop_prob, max_occluders, "
    "shake, zoom, lighting, background_changes, ambience_level, offscreen_rate, "
    "captions_per_event, video_kbps, preset (and has no distractor_prob, noise_prob, noise_level).",
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
    level: int,
    n: int,
    seed_offset: int,
    settings: tuple[str, ...],
    silent_copy: bool,
    workers: int,
) -> None:
    """Render N synthetic clips (H.264 + AAC) of a world level and write OUT/<split>.jsonl.

    Reruns resume: finished clips are kept.
    """
    from avseq.data.synth import generate_split, get_level

    config = get_level(level).config().with_overrides(list(settings))
    manifest = generate_split(out_dir, split, n, config, seed_offset, silent_copy, workers=workers)
    click.echo(str(manifest))
