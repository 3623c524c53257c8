"""Captions, caption cues and their file formats: WebVTT, SRT and a JSON document.

Timestamps follow each spec exactly: WebVTT ``hh:mm:ss.ttt`` after a ``WEBVTT``
header with ``&``, ``<`` and ``>`` escaped; SRT numbered cues with ``hh:mm:ss,ttt``.
All writers are atomic.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
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


@dataclass(frozen=True)
class Alternative:
    """One hypothesis of a caption decode: its text, its score (what the beam ranks by: the
    log-probability, length-normalized by the stage's ``length_penalty``) and its raw log-probability."""

    text: str
    score: float
    log_prob: float


class Caption(str):
    """A caption: its text, which it is (whatever reads text sees that ``str``), plus the
    ``alternatives`` its decode kept (a caption stage's ``n_best``), in the stage's order, the
    first being the caption itself; empty when one was asked for. Pickles with its alternatives."""

    alternatives: tuple[Alternative, ...]

    def __new__(
        cls, text: str, alternatives: Iterable[Alternative | tuple[str, float, float]] = ()
    ) -> Caption:
        self = super().__new__(cls, text)
        alts = tuple(a if isinstance(a, Alternative) else Alternative(*a) for a in alternatives)
        if alts and alts[0].text != text:
            raise ValueError(
                f"the first alternative must be the caption itself ({text!r}), got {alts[0].text!r}"
            )
        self.alternatives = alts
        return self

    def __reduce__(self) -> tuple:
        return (Caption, (str(self), self.alternatives))


class EventCaptions(str):
    """The captions of one window's events (a caption stage's ``mode: events``): its text, which it
    is, joins the events' captions with ``"; "``; ``cues`` holds one :class:`Cue` per event, its
    times in seconds from the window's start, in order of start. Pickles with its cues."""

    cues: tuple[Cue, ...]

    def __new__(cls, cues: Iterable[Cue]) -> EventCaptions:
        ordered = tuple(sorted(cues, key=lambda c: (c.start, c.end)))
        self = super().__new__(cls, "; ".join(c.text for c in ordered))
        self.cues = ordered
        return self

    def __reduce__(self) -> tuple:
        return (EventCaptions, (self.cues,))


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
    """Write ``{"captions": [...], "cues": [{start, end, text}], **meta}`` as JSON atomically.

    When a caption is a :class:`Caption` with alternatives, ``"alternatives"`` holds, per
    caption, its ``[{text, score, log_prob}]`` (the caption first); absent otherwise.
    """
    doc = {"captions": [str(c) for c in captions], "cues": [asdict(c) for c in cues], **meta}
    alternatives = [getattr(c, "alternatives", ()) for c in captions]
    if any(alternatives):
        doc["alternatives"] = [[asdict(a) for a in alts] for alts in alternatives]
    write_text_atomic(path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return Path(path)
