"""Read a run's ``results.jsonl`` and ``summary.json`` into typed records.

The schema is the one in docs/architecture.md ("Output files and results"). A
rerun appends lines, so the last line of each id wins; the clips keep the order
in which their ids first appeared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from avseq.errors import ReportError

Status = Literal["ok", "failed", "skipped"]
STATUSES: tuple[str, ...] = get_args(Status)


@dataclass(frozen=True)
class ClipError:
    """Why a clip failed: the exception type and its one-line message."""

    type: str
    message: str


@dataclass(frozen=True)
class ClipResult:
    """One line of results.jsonl. Output paths are relative to the output folder.

    ``references``, ``reference_audio`` and ``metrics`` are optional fields added
    when the run was scored against known answers (:mod:`avseq.report.scoring`).
    ``domain`` ("in" | "out" | None), ``domain_score`` and ``domain_scores`` (per bundle, score over
    its threshold) are the run's domain check (:mod:`avseq.pipeline.domain`); None when unchecked.
    """

    id: str
    input: str
    status: Status
    error: ClipError | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    captions: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    reference_audio: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    domain: Literal["in", "out"] | None = None
    domain_score: float | None = None
    domain_scores: dict[str, float] = field(default_factory=dict)
    duration: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    finished_at: str | None = None


def read_results(outdir: str | Path) -> list[ClipResult]:
    """The clips of ``outdir/results.jsonl``, one per id (last line wins), in first-seen order."""
    path = Path(outdir) / "results.jsonl"
    clips: dict[str, ClipResult] = {}
    for where, raw in read_lines(path):
        clip = _parse_record(raw, where)
        clips[clip.id] = clip
    return list(clips.values())


def read_lines(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """``(file:line, object)`` for each line of a results file.

    A torn last line (a run killed mid-write: no final newline) is ignored; any other
    line that is not a JSON object raises ReportError naming the file and line.
    """
    if not path.is_file():
        raise ReportError(f"{path}: not found; is {path.parent} an `avseq run` output folder?")
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as err:
            if number == len(lines) and not text.endswith("\n"):
                break
            raise ReportError(f"{path}:{number}: not valid JSON ({err.msg})") from None
        if not isinstance(raw, dict):
            raise ReportError(f"{path}:{number}: expected a JSON object, got {type(raw).__name__}")
        out.append((f"{path}:{number}", raw))
    return out


def read_summary(outdir: str | Path) -> dict[str, Any]:
    """``outdir/summary.json`` as a dict, or ``{}`` when the run wrote none (e.g. it was interrupted)."""
    path = Path(outdir) / "summary.json"
    if not path.is_file():
        return {}
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ReportError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(summary, dict):
        raise ReportError(f"{path}: expected a JSON object, got {type(summary).__name__}")
    return summary


def _parse_record(raw: dict[str, Any], where: str) -> ClipResult:
    for key in ("id", "status"):
        if not isinstance(raw.get(key), str):
            raise ReportError(f"{where}: {key!r} must be a string, got {raw.get(key)!r}")
    if raw["status"] not in STATUSES:
        raise ReportError(f"{where}: invalid status {raw['status']!r}. Supported: {', '.join(STATUSES)}")
    return ClipResult(
        id=raw["id"],
        input=str(raw.get("input") or ""),
        status=raw["status"],
        error=_parse_error(raw.get("error")),
        outputs={str(k): str(v) for k, v in _mapping(raw, "outputs", where).items() if v},
        captions=[str(c) for c in _sequence(raw, "captions", where)],
        references=[str(c) for c in _sequence(raw, "references", where)],
        reference_audio=str(raw["reference_audio"]) if raw.get("reference_audio") else None,
        metrics=dict(_mapping(raw, "metrics", where)),
        domain=raw["domain"] if raw.get("domain") in ("in", "out") else None,
        domain_score=_number(raw.get("domain_score")),
        domain_scores={
            str(k): float(v)
            for k, v in _mapping(raw, "domain_scores", where).items()
            if _number(v) is not None
        },
        duration=_number(raw.get("duration")),
        timings={
            str(k): float(v) for k, v in _mapping(raw, "timings", where).items() if _number(v) is not None
        },
        finished_at=raw.get("finished_at"),
    )


def _parse_error(raw: Any) -> ClipError | None:
    if raw is None:
        return None
    if isinstance(raw, dict):
        return ClipError(type=str(raw.get("type") or "Error"), message=str(raw.get("message") or ""))
    return ClipError(type="Error", message=str(raw))


def _mapping(raw: dict, key: str, where: str) -> dict:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ReportError(f"{where}: {key!r} must be an object, got {type(value).__name__}")
    return value


def _sequence(raw: dict, key: str, where: str) -> list:
    value = raw.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise ReportError(f"{where}: {key!r} must be a list, got {type(value).__name__}")
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
