"""``avseq probe FILE... [--json] [--scan]``: what each media file holds.

A table per file by default, one JSON document with ``--json``. A file that
cannot be probed prints one ``error:`` line on stderr; the exit code is 1 when
any file failed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from avseq.errors import AvseqError


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


def format_info(info) -> str:
    """Human-readable lines for one MediaInfo."""
    warn = "  WARNING: index points past the end of the file (truncated)" if info.truncated else ""
    lines = [
        f"{info.path}: {info.container}, {_fmt(info.duration, ' s')}, {info.size_bytes} bytes{warn}",
        *(_stream_line(s) for s in info.streams),
    ]
    return "\n".join(lines)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of tables.")
@click.option("--scan", is_flag=True, help="Read every packet: exact frame counts, durations and VFR.")
@click.pass_context
def probe(ctx: click.Context, files: tuple[Path, ...], as_json: bool, scan: bool) -> None:
    """Show container, duration and streams of each FILE."""
    from avseq.io.probe import probe as probe_file

    debug = bool(ctx.obj and ctx.obj.get("debug"))
    results, failed = [], 0
    for path in files:
        try:
            info = probe_file(path, scan=scan)
        except AvseqError as err:
            if debug:
                raise
            failed += 1
            click.echo(f"error: {err}", err=True)
            results.append({"path": str(path), "error": {"type": type(err).__name__, "message": str(err)}})
            continue
        results.append(info.to_dict())
        if not as_json:
            click.echo(format_info(info))
    if as_json:
        click.echo(json.dumps(results, indent=2))
    if failed:
        sys.exit(1)
