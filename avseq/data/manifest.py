"""Manifests: one :class:`ManifestEntry` per clip, read from JSONL or CSV, written as JSONL.

JSONL line (paths relative to the manifest's folder)::

    {"path": "train/train_0000000.mp4", "id": "train_0000000", "split": "train",
     "captions": ["a red metal ball bounces twice"],
     "events": [{"time": 0.6, "object": "red metal ball", "material": "metal",
                 "kind": "floor_hit", "strength": 0.8}],
     "duration": 3.0, "fps": 15.0, "sample_rate": 16000, "size_bytes": 48213, "has_audio": true,
     "attributes": {"colour": "red", "shape": "ball", "material": "metal",
                    "action": "bounce", "count": 2}}

An event is one sound (``time``: its onset) in level-1 synthetic clips and most datasets. The
level-2 synthetic world (``avseq synth --level 2``) gives one event per action, a time span with
the sounds in it and its own captions::

    {"time": 3.2, "end": 5.067, "object": "red metal ball", "material": "metal",
     "kind": "stick_hit", "strength": 0.9, "actor": "stick", "action": "struck",
     "colour": "red", "shape": "ball", "onsets": [3.533, 4.267],
     "captions": ["a stick hits the red metal ball twice", "..."],
     "track": [[3.2, 0.4127, 0.7031], [3.266667, 0.4131, 0.7029], "..."]}

:attr:`ManifestEntry.onsets` gives every sound onset of a clip, whichever kind of events it has.

Only ``path`` is required; ``id`` defaults to the path without its suffix. ``duration``
(seconds of the video timeline), ``fps``, ``sample_rate`` (of the audio track), ``size_bytes``
and ``has_audio`` are what probing the file found (``avseq data`` records them).
CSV manifests have a header with ``path`` and optionally ``id``, ``split``,
``caption`` (one per row; rows with the same id are merged) or ``captions``
(a JSON list or ``|``-separated), and ``duration``.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from avseq.errors import ConfigError
from avseq.io.atomic import write_text_atomic

MANIFEST_SUFFIXES = (".jsonl", ".csv")


@dataclass(frozen=True)
class Event:
    """A sounding event; times are seconds on the video timeline.

    time: onset of the sound (one sound per event), or start of the action when the event is a
    span; object, material: what sounds; kind: the contact (``floor_hit``, ``wall_hit``,
    ``stick_hit``, ...); strength: in (0, 1], the loudest hit of the event.
    Spans (level-2 synthetic clips) add: end (s); actor (what acts: the object itself, or the
    striker that hits it); action; colour, shape; onsets: (s) every sound in the span, sorted;
    captions: reference captions of this event alone; track: where ``object`` is, one ``(t, x, y)``
    per video frame of the span: t the frame's time (s), x and y the object's centre as
    fractions of the frame's width and height (0 the left/top edge, 1 the right/bottom edge; outside
    [0, 1] while the object is out of view). Fields left at their defaults are not written.
    """

    time: float
    object: str
    material: str
    kind: str
    strength: float
    end: float | None = None
    actor: str = ""
    action: str = ""
    colour: str = ""
    shape: str = ""
    onsets: tuple[float, ...] = ()
    captions: tuple[str, ...] = ()
    track: tuple[tuple[float, float, float], ...] = ()

    @property
    def sound_times(self) -> tuple[float, ...]:
        """Onsets (s) of the event's sounds: ``onsets`` for a span, else ``(time,)``."""
        return self.onsets or (self.time,)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "time": round(self.time, 6),
            "object": self.object,
            "material": self.material,
            "kind": self.kind,
            "strength": round(self.strength, 4),
        }
        if self.end is not None:
            out["end"] = round(self.end, 6)
        for key in ("actor", "action", "colour", "shape"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.onsets:
            out["onsets"] = [round(t, 6) for t in self.onsets]
        if self.captions:
            out["captions"] = list(self.captions)
        if self.track:
            out["track"] = [[round(t, 6), round(x, 4), round(y, 4)] for t, x, y in self.track]
        return out

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Event:
        """The event of one JSON object (lists become tuples); unknown or missing keys raise TypeError."""
        if not isinstance(record, dict):
            raise TypeError(f"an event must be a JSON object, got {type(record).__name__}")
        values = dict(record)
        for key in ("onsets", "captions"):
            if key in values:
                values[key] = tuple(values[key])
        if "track" in values:
            values["track"] = tuple(_track_point(p) for p in values["track"])
        return cls(**values)


def _track_point(point: Any) -> tuple[float, float, float]:
    if not isinstance(point, list | tuple) or len(point) != 3:
        raise TypeError(f"a track entry must be [t, x, y], got {point!r}")
    try:
        return float(point[0]), float(point[1]), float(point[2])
    except ValueError:
        raise TypeError(f"a track entry must be three numbers, got {point!r}") from None


EVENT_KEYS = tuple(f.name for f in fields(Event))


@dataclass(frozen=True)
class ManifestEntry:
    """One clip of a dataset. ``path`` is absolute; times are seconds."""

    path: Path
    id: str
    split: str = ""
    captions: tuple[str, ...] = ()
    events: tuple[Event, ...] = ()
    duration: float | None = None
    fps: float | None = None
    sample_rate: int | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    silent_path: Path | None = None
    size_bytes: int | None = None
    has_audio: bool | None = None

    @property
    def onsets(self) -> list[float]:
        """Every sound onset of the clip (s), sorted: each event's :attr:`Event.sound_times`."""
        return sorted(t for e in self.events for t in e.sound_times)

    @property
    def annotated_onsets(self) -> tuple[float, ...] | None:
        """:attr:`onsets` when the manifest annotates the clip's events, else None (not known,
        which is not the same as silent)."""
        return tuple(self.onsets) if self.events else None

    def to_json(self, root: str | Path) -> dict[str, Any]:
        """A JSON-ready dict with paths relative to ``root`` (the manifest's folder)."""
        out: dict[str, Any] = {"path": _relative(self.path, root), "id": self.id, "split": self.split}
        out["captions"] = list(self.captions)
        out["events"] = [e.to_json() for e in self.events]
        for key in ("duration", "fps", "sample_rate", "size_bytes", "has_audio"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["attributes"] = dict(self.attributes)
        if self.silent_path is not None:
            out["silent_path"] = _relative(self.silent_path, root)
        return out


def _relative(path: Path, root: str | Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def _default_id(rel: str) -> str:
    return Path(rel).with_suffix("").as_posix()


def read_manifest(path: str | Path) -> list[ManifestEntry]:
    """Entries of a ``.jsonl`` or ``.csv`` manifest; relative paths resolve against its folder."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: manifest not found")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _read_jsonl(path)
    if suffix == ".csv":
        return _read_csv(path)
    raise ConfigError(
        f"{path}: unsupported manifest type {suffix!r}. Supported: {', '.join(MANIFEST_SUFFIXES)}"
    )


def _read_jsonl(path: Path) -> list[ManifestEntry]:
    entries = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}:{lineno}: invalid JSON ({err.msg})") from None
        entries.append(entry_from_json(record, path.parent, where=f"{path}:{lineno}"))
    return entries


def entry_from_json(record: Any, root: Path, where: str = "manifest") -> ManifestEntry:
    """Build an entry from one decoded JSON object; ``where`` prefixes error messages."""
    if not isinstance(record, dict):
        raise ConfigError(f"{where}: expected a JSON object, got {type(record).__name__}")
    if not isinstance(record.get("path"), str) or not record["path"]:
        raise ConfigError(f"{where}: missing or empty key 'path'")
    captions = record.get("captions", [])
    if isinstance(captions, str):
        captions = [captions]
    if not isinstance(captions, list) or not all(isinstance(c, str) for c in captions):
        raise ConfigError(f"{where}: 'captions' must be a list of strings, got {captions!r}")
    try:
        events = tuple(Event.from_json(e) for e in record.get("events", []))
    except TypeError as err:
        raise ConfigError(f"{where}: bad event ({err}); keys: {', '.join(EVENT_KEYS)}") from None
    silent = record.get("silent_path")
    return ManifestEntry(
        path=(root / record["path"]).resolve(),
        id=str(record.get("id") or _default_id(record["path"])),
        split=str(record.get("split", "")),
        captions=tuple(captions),
        events=events,
        duration=_opt(record, "duration", float, where),
        fps=_opt(record, "fps", float, where),
        sample_rate=_opt(record, "sample_rate", int, where),
        attributes=dict(record.get("attributes", {})),
        silent_path=(root / silent).resolve() if silent else None,
        size_bytes=_opt(record, "size_bytes", int, where),
        has_audio=_opt_bool(record, "has_audio", where),
    )


def _opt(record: dict, key: str, kind: type, where: str) -> Any:
    value = record.get(key)
    if value is None or value == "":
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {key!r} must be a number, got {value!r}") from None


def _opt_bool(record: dict, key: str, where: str) -> bool | None:
    value = record.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise ConfigError(f"{where}: {key!r} must be true or false, got {value!r}")


def _read_csv(path: Path) -> list[ManifestEntry]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields = [c.strip().lower() for c in reader.fieldnames or []]
        if "path" not in fields:
            raise ConfigError(f"{path}: CSV manifest needs a 'path' column, got columns {fields}")
        merged: dict[str, dict[str, Any]] = {}
        for lineno, row in enumerate(reader, start=2):
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
            record = merged.setdefault(row.get("id") or _default_id(row["path"]), _csv_record(row))
            record["captions"].extend(_csv_captions(row, f"{path}:{lineno}"))
    return [entry_from_json(r, path.parent, where=str(path)) for r in merged.values()]


def _csv_record(row: dict[str, str]) -> dict[str, Any]:
    keys = ("path", "id", "split", "duration")
    return {k: row[k] for k in keys if row.get(k)} | {"captions": []}


def _csv_captions(row: dict[str, str], where: str) -> list[str]:
    caps = [row["caption"]] if row.get("caption") else []
    text = row.get("captions", "")
    if text.startswith("["):
        try:
            caps += [str(c) for c in json.loads(text)]
        except json.JSONDecodeError:
            raise ConfigError(f"{where}: 'captions' is not a JSON list: {text!r}") from None
    elif text:
        caps += [c.strip() for c in text.split("|") if c.strip()]
    return caps


def write_manifest(path: str | Path, entries: list[ManifestEntry]) -> Path:
    """Write ``entries`` as JSONL (paths relative to the manifest's folder), atomically."""
    path = Path(path)
    root = path.parent.resolve()
    lines = [json.dumps(e.to_json(root), ensure_ascii=False) for e in entries]
    write_text_atomic(path, "".join(line + "\n" for line in lines))
    return path
