"""The pipeline files and training configs shipped inside the package, found by name as bundles are.

They live in ``avseq/pipelines_data/`` and ``avseq/configs_data/`` (the checkout's ``pipelines/``
and ``configs/`` are links to these folders), so an installed avseq has them too:
``avseq run caption_and_sound -i ...``, ``avseq train sound_synth``. A path always wins over a
name; only a bare word (no folder, no suffix) that is not a file is looked up. Torch-free:
loading a pipeline resolves its name here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from avseq.errors import ConfigError

Kind = Literal["pipeline", "config"]
FOLDERS: dict[str, str] = {"pipeline": "pipelines_data", "config": "configs_data"}
SUFFIX = ".yaml"


@dataclass(frozen=True)
class ShippedFile:
    """One shipped file: its name (the file's stem), where it is, and the first line of its
    leading comment (what it is for)."""

    name: str
    path: Path
    summary: str


def shipped_root(kind: Kind) -> Path:
    """The folder holding the shipped files of ``kind`` (``pipeline`` or ``config``)."""
    if kind not in FOLDERS:
        raise ValueError(f"Invalid kind {kind!r}. Supported: {', '.join(map(repr, FOLDERS))}")
    return Path(str(resources.files("avseq") / FOLDERS[kind]))


def list_shipped(kind: Kind) -> list[ShippedFile]:
    """The shipped files of ``kind``, sorted by name."""
    root = shipped_root(kind)
    paths = sorted(root.glob(f"*{SUFFIX}")) if root.is_dir() else []
    return [ShippedFile(p.stem, p, summary(p)) for p in paths]


def summary(path: Path) -> str:
    """The first line of the comment a YAML file opens with ("" without one)."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
        if line.strip():
            return ""
    return ""


def resolve(kind: Kind, name_or_path: str | os.PathLike) -> Path:
    """The file for a path, or for the name of a shipped file of ``kind``.

    A path is returned as given (reading it reports a missing file); a bare word that is not a
    file is a name, and an unknown name raises ConfigError listing the shipped ones.
    """
    path = Path(name_or_path)
    text = str(name_or_path)
    if path.exists() or path.suffix or os.sep in text or "/" in text:
        return path
    try:
        return resolve_shipped(kind, text)
    except ConfigError as err:
        raise ConfigError(f"{text}: no such {kind} file. {err}") from None


def resolve_shipped(kind: Kind, name: str) -> Path:
    """The shipped file of ``kind`` named ``name``; ConfigError listing the names when unknown."""
    shipped = {f.name: f.path for f in list_shipped(kind)}
    if name in shipped:
        return shipped[name]
    raise ConfigError(
        f"No shipped {kind} {name!r}. Shipped: {', '.join(shipped) or '(none)'} (`avseq {kind}s` lists them)"
    )


def is_shipped(path: str | os.PathLike, kind: Kind) -> bool:
    """Whether ``path`` is one of the shipped files of ``kind`` (by any path, links followed)."""
    path = Path(path)
    return path.is_file() and path.resolve().parent == shipped_root(kind).resolve()
