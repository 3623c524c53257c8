"""The HTML report of an ``avseq run`` output folder: run summary header, then one section per clip."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from avseq.errors import ReportError
from avseq.io.atomic import write_text_atomic
from avseq.report.clips import domain_badge, render_clip
from avseq.report.html import esc, fmt, fmt_score, grid_table, kv_table, page
from avseq.report.records import STATUSES, ClipResult, read_results, read_summary

REPORT_NAME = "report.html"
MAX_SECTIONS = 200  # clips beyond this get an index row only (keeps the page and the run of plots bounded)
# summary.json keys shown first, with their labels; any other key follows under its own name
SUMMARY_LABELS = {
    "pipeline": "pipeline file",
    "device": "device",
    "wall_seconds": "wall time (s)",
    "files_per_second": "throughput (files/s)",
    "media_seconds_per_second": "media seconds per second",
    "bundles": "bundle versions",
    "domain": "domain check",
    "scores": "scores",
}
_SKIP_KEYS = {"counts"}  # recomputed from results.jsonl, which is the source of truth


def write_report(
    outdir: str | Path, *, pipeline: str | Path | None = None, max_sections: int = MAX_SECTIONS
) -> Path:
    """Write ``outdir/report.html`` (atomically) for the run in ``outdir`` and return its path.

    Reads ``results.jsonl`` and ``summary.json``; draws log-mel PNGs into each clip
    folder that has a ``sound.wav``. ``pipeline``: the pipeline file to show
    (default: the one summary.json names). Every clip is listed in the index; the
    first ``max_sections`` get a full section (player, spectrograms, ...). Raises
    ReportError when ``outdir`` holds no results.
    """
    outdir = Path(outdir)
    if not outdir.is_dir():
        raise ReportError(f"{outdir}: not a folder")
    if max_sections < 0:
        raise ValueError(f"max_sections must be >= 0, got {max_sections}")
    clips = read_results(outdir)
    summary = read_summary(outdir)
    if pipeline is not None:
        summary = {**summary, "pipeline": str(pipeline)}
    shown = clips[:max_sections]
    sections = "".join(render_clip(outdir, c, f"clip-{n}") for n, c in enumerate(shown))
    if len(clips) > len(shown):
        sections += f"<p class='muted'>{len(clips) - len(shown)} more clips are listed in the index only.</p>"
    body = _header(outdir, clips, summary, len(shown)) + _index(clips, len(shown)) + sections
    path = outdir / REPORT_NAME
    write_text_atomic(path, page(f"avseq report: {outdir.name}", body))
    return path


def _index(clips: list[ClipResult], linked: int) -> str:
    """One row per clip: id (a link to its section), status, caption or error, duration."""
    rows = []
    for n, c in enumerate(clips):
        name = _link(c.id, n, linked)
        what = esc(c.captions[0]) if c.captions else ""
        if c.error is not None:
            what = f"<span class='error'>{esc(c.error.type)}</span>"
        duration = esc(f"{c.duration:.2f}") if c.duration is not None else "-"
        status = f"<span class='badge {esc(c.status)}'>{esc(c.status)}</span> {domain_badge(c)}"
        rows.append([name, status, what, duration])
    return f"<nav class='index'>{grid_table(['clip', 'status', 'caption', 'seconds'], rows)}</nav>"


def _header(outdir: Path, clips: list[ClipResult], summary: dict[str, Any], linked: int) -> str:
    rows = [("output folder", esc(outdir.resolve())), ("inputs", esc(_counts(clips, summary)))]
    keys = [k for k in SUMMARY_LABELS if k in summary]
    keys += [k for k in summary if k not in SUMMARY_LABELS and k not in _SKIP_KEYS]
    rows += [(SUMMARY_LABELS.get(k, k.replace("_", " ")), _value(k, summary[k])) for k in keys]
    return (
        f"<header><h1>avseq report</h1>{kv_table(rows)}{_failures(clips, linked)}"
        f"{_pipeline_text(outdir, summary.get('pipeline'))}</header>"
    )


def _value(key: str, value: Any) -> str:
    """A summary value as HTML; bundle records read as "name version" (their path on hover)."""
    if key == "bundles" and isinstance(value, list) and all(isinstance(b, dict) for b in value):
        return ", ".join(
            f"<span title='{esc(b.get('path', ''))}'>{esc(b.get('name', '?'))} {esc(b.get('version', ''))}"
            "</span>"
            for b in value
        )
    if key == "scores" and isinstance(value, dict):
        return grid_table(list(value), [[fmt_score(v) for v in value.values()]])
    if key == "domain" and isinstance(value, dict) and {"in", "out"} <= set(value):
        flagged = ", ".join(str(b) for b in value.get("flagged_by") or [])
        by = f" (flagged by {flagged})" if flagged else ""
        return esc(f"{value['in']} in, {value['out']} out of the domain the models were trained on{by}")
    return fmt(value)


def _counts(clips: list[ClipResult], summary: dict[str, Any]) -> str:
    """Counts from results.jsonl; inputs the run never reached come from summary.json."""
    counts = Counter(c.status for c in clips)
    parts = [f"{counts[s]} {s}" for s in STATUSES if counts[s]]
    total = len(clips)
    not_run = (summary.get("counts") or {}).get("not_run") if isinstance(summary.get("counts"), dict) else 0
    if isinstance(not_run, int) and not_run > 0:
        parts.append(f"{not_run} not run")
        total += not_run
    return f"{total} ({', '.join(parts)})" if parts else "0"


def _failures(clips: list[ClipResult], linked: int) -> str:
    failed = [(n, c) for n, c in enumerate(clips) if c.status == "failed"]
    if not failed:
        return ""
    items = "".join(
        f"<li>{_link(c.id, n, linked)}: <span class='error'>"
        f"{esc(c.error.type if c.error else 'Error')}: {esc(c.error.message if c.error else '')}</span></li>"
        for n, c in failed
    )
    return f"<h3>Failures ({len(failed)})</h3><ul class='failures'>{items}</ul>"


def _link(clip_id: str, n: int, linked: int) -> str:
    """The clip id, linking to its section when it has one."""
    return f"<a href='#clip-{n}'>{esc(clip_id)}</a>" if n < linked else esc(clip_id)


def _pipeline_text(outdir: Path, pipeline: Any) -> str:
    """The pipeline file's text in a collapsed block, when the file is still readable."""
    if not isinstance(pipeline, str) or not pipeline:
        return ""
    path = next((p for p in (Path(pipeline), outdir / pipeline) if p.is_file()), None)
    if path is None:
        return ""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
    return f"<details><summary>pipeline file</summary><pre>{esc(text)}</pre></details>"
