"""Caption cues and their file formats: WebVTT, SRT and a JSON document.

Timestamps follow each spec exactly: WebVTT ``hh:mm:ss.ttt`` after a ``WEBVTT``
header with ``&``, ``<`` and ``>`` escaped; SRT numbered cues with ``hh:mm:ss,ttt``.
All writers are atomic.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from avseq.io.atomic import write_text_atomic


@dataclass(frozen=True)
class Cue:
    """One caption shown from ``start`` to ``end`` (seconds, end > start >= 0)."""

    start: float
    end: float
    text: str

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end)):
            raise ValueError(f"Cue times must be finite, got start={self.start}, end={self.end}")
        if self.start < 0 or self.end <= self.start:
            raise ValueError(f"Cue needs 0 <= start < end, got start={self.start}, end={self.end}")


def _timestamp(seconds: float, sep: str) -> str:
    ms = round(seconds * 1000)
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def vtt_timestamp(seconds: float) -> str:
    """``hh:mm:ss.ttt`` as WebVTT requires (hours always present)."""
    return _timestamp(seconds, ".")


def srt_timestamp(seconds: float) -> str:
    """``hh:mm:ss,ttt`` as SRT requires."""
    return _timestamp(seconds, ",")


def _escape_vtt(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # "-->" cannot appear in cue text; a blank line would end the cue early.
    return "\n".join(line for line in text.replace("-->", "--&gt;").splitlines() if line.strip())


def _clean_srt(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if line.strip())


def format_vtt(cues: Sequence[Cue]) -> str:
    """The WebVTT document for ``cues`` (header, blank line, one block per cue)."""
    blocks = ["WEBVTT"]
    for cue in cues:
        blocks.append(f"{vtt_timestamp(cue.start)} --> {vtt_timestamp(cue.end)}\n{_escape_vtt(cue.text)}")
    return "\n\n".join(blocks) + "\n"


def format_srt(cues: Sequence[Cue]) -> str:
    """The SRT document for ``cues`` (numbered from 1, ``hh:mm:ss,ttt`` times)."""
    blocks = [
        f"{i}\n{srt_timestamp(c.start)} --> {srt_timestamp(c.end)}\n{_clean_srt(c.text)}"
        for i, c in enumerate(cues, start=1)
    ]
    return "\n\n".join(blocks) + "\n" if blocks else ""


def write_vtt(path: str | Path, cues: Sequence[Cue]) -> Path:
    """Write ``cues`` as a WebVTT file atomically; returns the path."""
    write_text_atomic(path, format_vtt(cues))
    return Path(path)


def write_srt(path: str | Path, cues: Sequence[Cue]) -> Path:
    """Write ``cues`` as an SRT file atomically; returns the path."""
    write_text_atomic(path, format_srt(cues))
    return Path(path)


def write_caption_json(
    path: str | Path, captions: Sequence[str], cues: Sequence[Cue] = (), **meta: object
) -> Path:
    """Write ``{"captions": [...], "cues": [{start, end, text}], **meta}`` as JSON atomically."""
    doc = {"captions": list(captions), "cues": [asdict(c) for c in cues], **meta}
    write_text_atomic(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return Path(path)
