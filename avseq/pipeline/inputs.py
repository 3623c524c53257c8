"""Turning ``-i`` arguments into a list of :class:`InputItem`: files, folders, globs, manifests.

- a file: one input, id = its name without extension;
- a folder: media files found recursively (by extension), id = path relative to the folder;
- a glob (``clips/**/*.mp4``): matches in sorted order, id relative to the glob's fixed prefix;
- a JSONL manifest (``*.jsonl``): one ``{"path": ..., "id": ...}`` per line, relative paths
  resolved against the manifest's folder; ``id`` is optional.

Which files a folder or a glob names is decided in :mod:`avseq.io.paths` (``avseq probe`` uses it too).
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass
from pathlib import Path

from avseq.errors import ConfigError
from avseq.io.paths import glob_files, media_in_folder
from avseq.pipeline.ids import assign_ids


@dataclass(frozen=True)
class InputItem:
    """One input file: ``id`` names its output folder ``OUTDIR/<id>/``; ``path`` is absolute."""

    id: str
    path: Path


def expand_inputs(
    args: list[str | Path], limit: int | None = None, exclude: str | Path | None = None
) -> list[InputItem]:
    """Expand ``-i`` arguments in order into uniquely-identified inputs (first ``limit`` kept).

    exclude: a folder (the output folder) whose files are never inputs, so a run writing
    inside its input folder does not pick up its own outputs when rerun. Raises
    ConfigError when an argument matches nothing or a manifest line is malformed. A file
    listed twice is kept once.
    """
    found: list[tuple[str, Path]] = []
    for arg in args:
        found.extend(_expand_one(str(arg)))
    if exclude is not None:
        skip = Path(exclude).resolve()
        found = [(r, p) for r, p in found if not p.is_relative_to(skip)]
    seen: set[Path] = set()
    unique = [(r, p) for r, p in found if not (p in seen or seen.add(p))]
    if limit is not None:
        unique = unique[:limit]
    ids = assign_ids([r for r, _ in unique], [str(p) for _, p in unique])
    return [InputItem(i, p) for i, (_, p) in zip(ids, unique, strict=True)]


def _expand_one(arg: str) -> list[tuple[str, Path]]:
    path = Path(arg).expanduser()
    if path.is_file() and path.suffix.lower() == ".jsonl":
        return read_manifest(path)
    if path.is_file():
        return [(path.stem, path.resolve())]
    if path.is_dir():
        return _scan_folder(path)
    if glob.has_magic(arg):
        return _expand_glob(arg)
    raise ConfigError(f"input {arg!r}: no such file, folder, glob match or manifest")


def _absolute(path: Path) -> Path:
    """``path`` absolute with symlinks resolved; a symlink loop is kept as written (it fails alone later)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):
        return Path(os.path.abspath(path))


def _scan_folder(folder: Path) -> list[tuple[str, Path]]:
    return [(p.relative_to(folder).with_suffix("").as_posix(), _absolute(p)) for p in media_in_folder(folder)]


def _expand_glob(pattern: str) -> list[tuple[str, Path]]:
    matches = glob_files(pattern)
    if not matches:
        raise ConfigError(f"input {pattern!r}: the glob matches no file")
    fixed = Path(*_fixed_prefix(pattern))
    out = []
    for m in matches:
        try:
            rel = m.relative_to(fixed)
        except ValueError:
            rel = Path(m.name)
        out.append((rel.with_suffix("").as_posix(), _absolute(m)))
    return out


def _fixed_prefix(pattern: str) -> list[str]:
    """The leading folders of ``pattern`` without wildcards (ids are relative to them)."""
    fixed = []
    for part in Path(pattern).parts[:-1]:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return fixed or ["."]


def read_manifest(path: Path) -> list[tuple[str, Path]]:
    """``(raw id, absolute path)`` for each line of a JSONL manifest; ConfigError names the bad line."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ConfigError(f"{path}:{n}: not valid JSON ({err.msg})") from None
            if not isinstance(row, dict) or not isinstance(row.get("path"), str) or not row["path"]:
                raise ConfigError(
                    f'{path}:{n}: each line needs {{"path": "...", "id": "..."}}, got {line.strip()[:80]!r}'
                )
            media = _absolute(path.parent / row["path"])
            raw_id = row.get("id")
            if raw_id is not None and not isinstance(raw_id, (str, int)):
                raise ConfigError(f"{path}:{n}: 'id' must be a string, got {raw_id!r}")
            out.append(
                (str(raw_id) if raw_id is not None else Path(row["path"]).with_suffix("").as_posix(), media)
            )
    return out
