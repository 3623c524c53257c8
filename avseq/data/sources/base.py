"""What a dataset source hands to :func:`~avseq.data.sources.build.build_manifests`: the clips
its annotations name (:class:`Clip`), each with the file found for it or the reason it has none.

A source reads annotations and lays out splits; it never opens a video. Probing, the checks
that leave a clip out and the files written are :mod:`avseq.data.sources.build`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from avseq.data.manifest import Event
from avseq.errors import ConfigError
from avseq.io.paths import media_in_folder

# Why a clip is left out of the manifests (the report's ``reason``).
Reason = Literal[
    "missing",  # no video file where the annotations say it is
    "unreadable",  # the file does not open as media, or a stream fails to decode
    "truncated",  # the data ends before the container says it does
    "no_video",  # no decodable video stream (an audio-only file)
    "no_audio",  # a sound source, and the file has no audio stream
    "silent",  # a sound source, and the audio track's peak is below the silence level
    "too_short",  # shorter than the minimum duration
    "no_captions",  # a caption source, and the annotations give the clip no caption
    "bad_annotation",  # the clip's own annotation file or line cannot be read
    "unlisted",  # a file on disk that no split list names
    "duplicate",  # a second clip with an id already taken
]


@dataclass(frozen=True)
class Problem:
    """Why one clip is left out: a :data:`Reason` and a one-line message that names the file."""

    reason: Reason
    message: str


@dataclass(frozen=True)
class Clip:
    """One clip a source names. ``split``: train, val or test ('' for a file no split names);
    ``path``: the file found for it (None when none was); ``problem``: set when the source
    already knows the clip cannot be used."""

    id: str
    split: str
    path: Path | None
    captions: tuple[str, ...] = ()
    events: tuple[Event, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)
    problem: Problem | None = None


@dataclass(frozen=True)
class Collected:
    """A source's clips, in a deterministic order, and notes for the user (printed on stderr)."""

    clips: list[Clip]
    notes: list[str] = field(default_factory=list)


def missing(id: str, split: str, where: str, **fields: Any) -> Clip:
    """A clip whose file was not found; ``where`` says where it was looked for."""
    return Clip(id, split, None, problem=Problem("missing", f"no video file {where}"), **fields)


class VideoIndex:
    """The media files under ``root`` (recursive, one walk), found by their path relative to
    ``root`` without the suffix (``drum/video_02480``) or by their stem alone (``video_02480``;
    the first in sorted order when two folders hold the same stem)."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise ConfigError(f"{root}: folder not found (the dataset's videos are looked for there)")
        self.root = root
        self._by_name: dict[str, Path] = {}
        for path in media_in_folder(root):
            rel = path.relative_to(root).with_suffix("").as_posix()
            self._by_name.setdefault(rel, path)
            self._by_name.setdefault(path.stem, path)

    def find(self, names: Iterable[str | None]) -> Path | None:
        """The file of the first of ``names`` that is present, else None."""
        for name in names:
            if name and name in self._by_name:
                return self._by_name[name]
        return None


def find_file(root: Path, names: Iterable[str]) -> Path | None:
    """The first of ``names`` present in ``root``, else one folder below it; None when none is."""
    for name in names:
        for candidate in (root / name, *sorted(root.glob(f"*/{name}"))):
            if candidate.is_file():
                return candidate
    return None


def first_file(root: Path, names: Iterable[str], what: str, given: Path | None = None) -> Path:
    """``given`` when set (it must exist), else :func:`find_file`; a ConfigError names every
    file looked for."""
    if given is not None:
        if not given.is_file():
            raise ConfigError(f"{given}: {what} not found")
        return given
    names = list(names)
    found = find_file(root, names)
    if found is None:
        raise ConfigError(f"{root}: no {what}; expected {' or '.join(names)} in this folder or one below it")
    return found
