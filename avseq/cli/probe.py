"""``avseq probe PATH... [--json | --jsonl] [--scan]``: what each media file holds.

Each PATH is a file, a folder (its media files, recursively, by extension) or a quoted
glob (``'clips/**/*.mp4'``), expanded by :mod:`avseq.io.paths` as pipeline inputs are.
A table per file by default; ``--jsonl`` prints one JSON line per file as it is probed,
``--json`` one JSON document at the end. A file that cannot be probed, or a folder or
glob that names no file, prints one ``error:`` line on stderr and, in JSON output,
``{"path": ..., "error": {"type": ..., "message": ...}}``; the exit code is 1 when any
failed. Only :mod:`avseq.io.probe` is imported: PyAV, never torch.
"""

from __future__ import annotations

import glob
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from avseq.errors import AvseqError, NotMediaError
from avseq.io.paths import glob_files, media_in_folder
from avseq.io.probe import MediaInfo
from avseq.io.probe import probe as probe_file


def _fmt(value, unit: str = "", digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}".rstrip("0").rstrip(".") + unit
    return f"{value}{unit}"


def _stream_line(s) -> str:
    head = f"  #{s.index} {s.type:<8} {s.codec:<10}"
    if s.type == "video":
        vfr = " VFR" if s.is_vfr else ""
        rot = f" rot {s.rotation}" if s.rotation else ""
        detail = (
            f"{s.width}x{s.height} {s.pix_fmt or '-'} avg {_fmt(s.avg_fps)} fps "
            f"(r {_fmt(s.real_fps)}){vfr}{rot} frames {_fmt(s.frames)}"
        )
    elif s.type == "audio":
        detail = f"{_fmt(s.sample_rate, ' Hz')} {_fmt(s.channels)} ch samples {_fmt(s.samples)}"
    else:
        detail = f"lang {s.language or '-'}"
    return f"{head} {detail} dur {_fmt(s.duration, ' s')} start {_fmt(s.start_time, ' s')}"


def format_info(info: MediaInfo) -> str:
    """Human-readable lines for one MediaInfo."""
    warn = "  WARNING: index points past the end of the file (truncated)" if info.truncated else ""
    lines = [
        f"{info.path}: {info.container}, {_fmt(info.duration, ' s')}, {info.size_bytes} bytes{warn}",
        *(_stream_line(s) for s in info.streams),
    ]
    return "\n".join(lines)


def _expand(arg: str) -> list[Path]:
    """The files one PATH names; a missing plain path is kept, so probing it reports why."""
    path = Path(arg).expanduser()
    if path.is_dir():
        files = media_in_folder(path)
        if not files:
            raise NotMediaError(path, "folder holds no media file (known audio/video extensions)")
        return files
    if not path.exists() and glob.has_magic(arg):
        files = glob_files(arg)
        if not files:
            raise NotMediaError(arg, "the glob matches no file")
        return files
    return [path]


def _probe_each(args: tuple[str, ...], scan: bool) -> Iterator[tuple[str, MediaInfo | AvseqError]]:
    """``(path, info or error)`` for every file the arguments name, in order."""
    for arg in args:
        try:
            paths = _expand(arg)
        except AvseqError as err:
            yield arg, err
            continue
        for path in paths:
            try:
                yield str(path), probe_file(path, scan=scan)
            except AvseqError as err:
                yield str(path), err


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (a list) at the end.")
@click.option("--jsonl", is_flag=True, help="Print one JSON line per file as it is probed.")
@click.option("--scan", is_flag=True, help="Read every packet: exact frame counts, durations and VFR.")
@click.pass_context
def probe(ctx: click.Context, paths: tuple[str, ...], as_json: bool, jsonl: bool, scan: bool) -> None:
    """Show container, duration and streams of each file; PATH is a file, folder or glob."""
    if as_json and jsonl:
        raise click.UsageError("--json (one document) and --jsonl (one line per file) cannot be combined")
    debug = bool(ctx.obj and ctx.obj.get("debug"))
    documents, failed = [], 0
    for path, result in _probe_each(paths, scan):
        if isinstance(result, AvseqError):
            if debug:
                raise result
            failed += 1
            click.echo(f"error: {result}", err=True)
            doc = {"path": path, "error": {"type": type(result).__name__, "message": str(result)}}
        else:
            doc = result.to_dict()
            if not (as_json or jsonl):
                click.echo(format_info(result))
        if jsonl:
            click.echo(json.dumps(doc))
        elif as_json:
            documents.append(doc)
    if as_json:
        click.echo(json.dumps(documents, indent=2))
    if failed:
        sys.exit(1)
