"""Small HTML building blocks shared by the run and training reports.

Every string that may come from an input (file names, ids, captions, error
messages, config values) goes through :func:`esc` or :func:`href`; the pages are
static, with inline CSS and no scripts, so they open from disk anywhere.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

CSS = """
:root { --fg: #1d232b; --muted: #5b6673; --line: #d9dee4; --bg: #f5f7f9; --card: #fff;
        --ok: #1f7a3d; --failed: #b3261e; --skipped: #7a5b00; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
       color: var(--fg); background: var(--bg); }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 0; overflow-wrap: anywhere; }
h3 { font-size: 14px; margin: 12px 0 4px; color: var(--muted); text-transform: uppercase; }
header, section.clip { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
                       padding: 16px 20px; margin-bottom: 16px; }
table.kv { border-collapse: collapse; } table.kv td { padding: 2px 16px 2px 0; vertical-align: top; }
table.kv > tbody > tr > td:first-child { color: var(--muted); white-space: nowrap; }
table.grid { border-collapse: collapse; } table.grid td, table.grid th {
  border: 1px solid var(--line); padding: 3px 10px; text-align: right; }
table.grid th { background: var(--bg); font-weight: 600; }
nav.index { margin-bottom: 16px; overflow-x: auto; } nav.index td, nav.index th { text-align: left; }
nav.index table { background: var(--card); width: 100%; }
.clip-head { display: flex; gap: 12px; align-items: baseline; flex-wrap: wrap; }
.badge { font-size: 12px; font-weight: 700; padding: 2px 8px; border-radius: 10px; color: #fff; }
.badge.ok { background: var(--ok); } .badge.failed { background: var(--failed); }
.badge.skipped { background: var(--skipped); }
.badge.domain-out { background: #8a3ffc; } .badge.domain-in { background: #e7e2f7; color: var(--fg); }
.muted { color: var(--muted); } .error { color: var(--failed); overflow-wrap: anywhere; }
.clip-body { display: flex; gap: 20px; flex-wrap: wrap; margin-top: 10px; }
.clip-body > div { flex: 1 1 360px; min-width: 0; }
video { width: 100%; max-width: 560px; background: #000; border-radius: 4px; }
.caption { font-size: 17px; margin: 4px 0; }
.spectrograms { display: flex; gap: 10px; flex-wrap: wrap; }
.spectrograms figure { margin: 0; flex: 1 1 260px; } .spectrograms img, img.plot { max-width: 100%; }
figcaption { font-size: 13px; color: var(--muted); }
ul.failures li { margin-bottom: 2px; } code { font-size: 13px; overflow-wrap: anywhere; }
pre { background: var(--bg); padding: 8px; overflow-x: auto; font-size: 13px; }
"""


def esc(value: object) -> str:
    """``value`` as text that is safe inside HTML element content and quoted attributes."""
    return html.escape(str(value), quote=True)


def href(relative: str | PurePosixPath) -> str:
    """A relative path as an escaped, percent-encoded URL (``:`` included, so no ``javascript:``)."""
    return esc(quote(str(relative).replace("\\", "/"), safe="/"))


def page(title: str, body: str) -> str:
    """A complete HTML document with the inline stylesheet; ``body`` is already HTML."""
    return (
        "<!doctype html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def kv_table(rows: Iterable[tuple[str, str]]) -> str:
    """A two-column label/value table; labels are escaped, values are already HTML."""
    cells = "".join(f"<tr><td>{esc(label)}</td><td>{value}</td></tr>" for label, value in rows)
    return f"<table class='kv'>{cells}</table>"


def grid_table(header: list[str], rows: Iterable[list[str]]) -> str:
    """A bordered table; header cells are escaped, row cells are already HTML."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table class='grid'><tr>{head}</tr>{body}</table>"


def fmt(value: Any) -> str:
    """A JSON-ish value as escaped, readable text (numbers to 4 significant digits)."""
    if isinstance(value, bool) or value is None:
        return esc("yes" if value is True else "no" if value is False else "-")
    if isinstance(value, float):
        return esc(f"{value:.4g}" if math.isfinite(value) else str(value))
    if isinstance(value, Mapping):
        return ", ".join(f"{esc(k)}: {fmt(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v) for v in value) or "-"
    return esc(value)


def fmt_score(value: Any) -> str:
    """A metric value: numbers to 4 decimals without trailing zeros (so 3e-13 reads 0), else :func:`fmt`."""
    if isinstance(value, float) and math.isfinite(value):
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        return esc("0" if text in ("-0", "") else text)
    return fmt(value)
