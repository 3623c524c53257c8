"""``avseq data SOURCE ROOT -o OUT``: a dataset on disk -> ``OUT/{train,val,test}.jsonl``.

One subcommand per source (:mod:`avseq.data.sources`): ``msvd``, ``msrvtt`` (captions),
``vggsound``, ``vas``, ``greatest-hits`` and ``folder`` (sound: the audio track is the target).
Every clip is probed in parallel (a progress bar on stderr); the ones that cannot be trained on
are left out and listed in ``OUT/report.jsonl`` with the reason, and counted on stderr. The
summary line (clips per split) goes to stdout. Exit code 1 when no clip is kept. Torch is never
imported.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from avseq.data.sources.probing import DEFAULT_MIN_DURATION, DEFAULT_SILENCE_DB, Checks
from avseq.data.sources.splits import DEFAULT_VAL_FRACTION, parse_fractions

ROOT = click.Path(exists=True, file_okay=False, path_type=Path)
FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
FOLDER = click.Path(exists=True, file_okay=False, path_type=Path)


def _common(sound: bool):
    """The options every source takes (``--silence-db`` only where the audio is the target)."""

    def decorate(command):
        options = [
            click.option(
                "-o",
                "--out",
                "out_dir",
                required=True,
                type=click.Path(file_okay=False, path_type=Path),
                help="Folder for train.jsonl, val.jsonl, test.jsonl, report.jsonl and summary.json.",
            ),
            click.option(
                "--workers",
                type=click.IntRange(min=1),
                default=None,
                help="Processes probing files in parallel  [default: the number of CPUs]",
            ),
            click.option(
                "--min-duration",
                type=click.FloatRange(min=0),
                default=DEFAULT_MIN_DURATION,
                show_default=True,
                help="Leave out clips shorter than this many seconds.",
            ),
            click.option(
                "--progress/--no-progress", default=True, show_default=True, help="Progress bar on stderr."
            ),
        ]
        if sound:
            options.append(
                click.option(
                    "--silence-db",
                    type=float,
                    default=DEFAULT_SILENCE_DB,
                    show_default=True,
                    help="Leave out clips whose audio peak stays below this level (dBFS).",
                )
            )
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def _split_option(default: str = "0.8,0.1,0.1"):
    return click.option(
        "--split",
        "split_text",
        default=default,
        show_default=True,
        metavar="TRAIN,VAL,TEST",
        help="Fractions of clips per split, chosen by a hash of each clip's name.",
    )


_val_option = click.option(
    "--val-fraction",
    type=float,
    default=DEFAULT_VAL_FRACTION,
    show_default=True,
    help="Fraction of the published training clips held out for validation (by a hash of the name).",
)


def _build(
    name: str,
    collected,
    sound: bool,
    out_dir: Path,
    workers: int | None,
    min_duration: float,
    progress: bool,
    silence_db: float = DEFAULT_SILENCE_DB,
) -> None:
    from avseq.data.sources.build import build_manifests
    from avseq.pipeline.progress import Progress

    for note in collected.notes:
        click.echo(f"note: {note}", err=True)
    checks = Checks(sound=sound, min_duration=min_duration, silence_db=silence_db)
    bar: list[Progress] = []

    def start(total: int) -> None:
        bar.append(Progress(total, enabled=progress))

    result = build_manifests(
        name,
        collected.clips,
        out_dir,
        checks,
        workers=workers or os.cpu_count() or 1,
        on_start=start,
        on_clip=lambda kept: bar[0].update("ok" if kept else "failed"),
    )
    if bar:
        bar[0].close()
    click.echo(result.summary_line())
    if result.left_out:
        click.echo(f"warning: {result.left_out_line()}", err=True)
    if result.kept == 0:
        click.echo(f"error: no clip of {name} could be used; see {result.out_dir / 'report.jsonl'}", err=True)
        sys.exit(1)


@click.group()
def data() -> None:
    """Write train/val/test manifests of a dataset on disk, ready for `avseq train`."""


@data.command()
@click.argument("root", type=ROOT)
@click.option(
    "--annotations",
    type=FILE,
    help="Caption file  [default: AllVideoDescriptions.txt, annotations.txt "
    "or 'MSR Video Description Corpus.csv' in ROOT]",
)
@click.option(
    "--mapping", type=FILE, help="youtube_mapping.txt (standard splits)  [default: in ROOT if there]"
)
@click.option("--videos", type=FOLDER, help="Folder of the clips  [default: ROOT]")
@_split_option()
@_common(sound=False)
def msvd(root: Path, annotations, mapping, videos, split_text: str, **common) -> None:
    """MSVD captions.

    ROOT holds the clips (YouTubeClips/*.avi) and AllVideoDescriptions.txt.
    """
    from avseq.data.sources import msvd as source

    collected = source.collect(
        root, annotations=annotations, mapping=mapping, videos=videos, fractions=parse_fractions(split_text)
    )
    _build("msvd", collected, source.SOUND, **common)


@data.command()
@click.argument("root", type=ROOT)
@click.option(
    "--annotations",
    type=FILE,
    multiple=True,
    help="A videos + sentences JSON file (repeatable)  [default: train_val_videodatainfo.json "
    "and test_videodatainfo.json in ROOT]",
)
@click.option("--videos", type=FOLDER, help="Folder of the clips  [default: ROOT]")
@_common(sound=False)
def msrvtt(root: Path, annotations, videos, **common) -> None:
    """MSR-VTT captions.

    ROOT holds the clips (video<N>.mp4) and train_val_videodatainfo.json +
    test_videodatainfo.json.
    """
    from avseq.data.sources import msrvtt as source

    collected = source.collect(root, annotations=list(annotations) or None, videos=videos)
    _build("msrvtt", collected, source.SOUND, **common)


@data.command()
@click.argument("root", type=ROOT)
@click.option("--csv", "csv_path", type=FILE, help="vggsound.csv  [default: in ROOT]")
@click.option("--videos", type=FOLDER, help="Folder of the downloaded clips  [default: ROOT]")
@click.option(
    "--name-format",
    default="{ytid}_{start:06d}",
    show_default=True,
    help="File name of a clip, without extension; fields: ytid, start, end, start_ms, end_ms, "
    "label, split (e.g. '{ytid}_{start_ms}_{end_ms}' or '{label}/{ytid}_{start:06d}').",
)
@_val_option
@_common(sound=True)
def vggsound(root: Path, csv_path, videos, name_format: str, val_fraction: float, **common) -> None:
    """VGGSound clips with sound.

    ROOT holds vggsound.csv and the downloaded clips.
    """
    from avseq.data.sources import vggsound as source

    collected = source.collect(
        root,
        csv_path=csv_path,
        videos=videos,
        name_format=name_format,
        val_fraction=val_fraction,
    )
    _build("vggsound", collected, source.SOUND, **common)


@data.command()
@click.argument("root", type=ROOT)
@click.option(
    "--lists", type=FOLDER, help="Folder of vas_train.txt and vas_valid.txt  [default: ROOT or its parent]"
)
@_val_option
@_common(sound=True)
def vas(root: Path, lists, val_fraction: float, **common) -> None:
    """VAS clips with sound.

    ROOT is SpecVQGAN's data/vas (videos/<class>/*.mp4) or RegNet's data/VAS
    (<class>/videos/*.mp4).
    """
    from avseq.data.sources import vas as source

    collected = source.collect(root, lists=lists, val_fraction=val_fraction)
    _build("vas", collected, source.SOUND, **common)


@data.command("greatest-hits")
@click.argument("root", type=ROOT)
@_split_option()
@_val_option
@_common(sound=True)
def greatest_hits(root: Path, split_text: str, val_fraction: float, **common) -> None:
    """The Greatest Hits, with its hits as events.

    ROOT holds <name>_denoised.mp4 and <name>_times.txt per recording.
    """
    from avseq.data.sources import greatest_hits as source

    collected = source.collect(root, val_fraction=val_fraction, fractions=parse_fractions(split_text))
    _build("greatest-hits", collected, source.SOUND, **common)


@data.command()
@click.argument("root", type=ROOT)
@_split_option()
@_common(sound=True)
def folder(root: Path, split_text: str, **common) -> None:
    """Any folder of videos with sound.

    Self-supervised: the audio track is the target, no annotation is needed.
    """
    from avseq.data.sources import folder as source

    collected = source.collect(root, fractions=parse_fractions(split_text))
    _build("folder", collected, source.SOUND, **common)
