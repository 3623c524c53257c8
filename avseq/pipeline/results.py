"""``OUTDIR/results.jsonl`` and ``OUTDIR/summary.json``: what happened to each input.

During a run each finished input is appended as one JSON line (flushed and
fsynced), so a killed run keeps every result it reached. At the end the file is
rewritten atomically with one line per input. Resume reads it back: an input
whose last record is ``ok`` and whose output files all exist is skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from avseq.errors import ConfigError, MediaError
from avseq.io.atomic import write_text_atomic

RESULTS_NAME = "results.jsonl"
SUMMARY_NAME = "summary.json"
Status = Literal["ok", "failed", "skipped"]


@dataclass
class Result:
    """One line of results.jsonl (schema in docs/architecture.md); output paths relative to OUTDIR.

    decode_device: where the input's video frames were decoded, "cuda" (NVDEC) or "cpu" (None:
    not known, e.g. the decode failed, or no video); decode_fallback: why a CUDA decode ran on the
    CPU (None otherwise).
    """

    id: str
    input: str
    status: Status
    error: dict[str, str] | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    captions: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # a classify stage's: attribute -> top class
    domain: Literal["in", "out"] | None = None  # the domain check: see avseq.pipeline.domain
    domain_score: float | None = None
    domain_scores: dict[str, float] = field(default_factory=dict)
    duration: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    decode_device: str | None = None
    decode_fallback: str | None = None
    finished_at: str = ""

    @classmethod
    def failure(
        cls, id: str, input: str, err: BaseException, timings: dict[str, float] | None = None
    ) -> Result:
        """A ``failed`` record with the error type and its one-line message."""
        message = " ".join(str(err).split()) or type(err).__name__
        return cls(
            id, input, "failed", {"type": type(err).__name__, "message": message}, timings=timings or {}
        )

    @classmethod
    def from_record(cls, rec: dict[str, Any], **changes: Any) -> Result:
        """A Result from a results.jsonl line (unknown keys dropped), with ``changes`` applied."""
        known = {k: v for k, v in rec.items() if k in cls.__dataclass_fields__}
        return cls(**{**known, **changes})

    def to_json(self) -> str:
        if not self.finished_at:
            self.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.timings = {k: round(v, 4) for k, v in self.timings.items()}
        return json.dumps(asdict(self), ensure_ascii=False)


def read_results(outdir: Path) -> dict[str, dict[str, Any]]:
    """The last record per id in ``outdir/results.jsonl`` (a torn last line is ignored)."""
    path = outdir / RESULTS_NAME
    records: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return records
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("id"), str):
            records[rec["id"]] = rec
    return records


def is_complete(outdir: Path, record: dict[str, Any] | None, expected: set[str]) -> bool:
    """True when ``record`` says ok/skipped and every expected output file exists."""
    if not record or record.get("status") not in ("ok", "skipped"):
        return False
    outputs = record.get("outputs") or {}
    return expected <= set(outputs) and all((outdir / p).is_file() for p in outputs.values())


class ResultLog:
    """Appends result lines durably as inputs finish; :meth:`compact` rewrites one line per input."""

    def __init__(self, outdir: Path) -> None:
        self.path = outdir / RESULTS_NAME
        try:
            outdir.mkdir(parents=True, exist_ok=True)
            if self.path.is_symlink():  # appending would write wherever it points; replace the link
                self.path.unlink()
            needs_newline = (
                self.path.exists() and self.path.stat().st_size and not self.path.read_bytes().endswith(b"\n")
            )
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        except OSError as err:
            raise ConfigError(
                f"{outdir}: cannot write to the output folder ({err.strerror or err})"
            ) from None
        if needs_newline:
            self._file.write("\n")

    def append(self, result: Result) -> None:
        """Append ``result`` durably; MediaError when the disk refuses (the run cannot go on unrecorded)."""
        try:
            self._file.write(result.to_json() + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as err:
            raise MediaError(
                self.path, f"cannot record the result of {result.id!r} ({err.strerror or err})"
            ) from None

    def close(self) -> None:
        self._file.close()

    def compact(self, order: list[str], results: dict[str, Result]) -> None:
        """Rewrite the file atomically: this run's inputs in ``order``, then older ids kept as they were."""
        self.close()
        older = read_results(self.path.parent)
        lines = [results[i].to_json() for i in order if i in results]
        lines += [json.dumps(rec, ensure_ascii=False) for i, rec in older.items() if i not in results]
        # A full disk fails the rewrite; the appended log already holds every result (last line per id wins).
        with contextlib.suppress(OSError):
            write_text_atomic(self.path, "".join(line + "\n" for line in lines))


def write_summary(outdir: Path, summary: dict[str, Any]) -> None:
    """Write ``outdir/summary.json`` atomically; MediaError when it cannot be written (e.g. a full disk)."""
    path = outdir / SUMMARY_NAME
    try:
        write_text_atomic(path, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    except OSError as err:
        raise MediaError(path, f"cannot write the run summary ({err.strerror or err})") from None
