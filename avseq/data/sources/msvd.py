"""MSVD (Chen & Dolan 2011, the Microsoft Research Video Description Corpus): captions.

The layout of the usual download::

    ROOT/
      YouTubeClips/<youtube id>_<start>_<end>.avi     the 1970 clips (any folder under ROOT will do)
      AllVideoDescriptions.txt                        '<clip name> <caption>' lines; '#' comments
      youtube_mapping.txt                             optional: '<clip name> vid<N>' lines

Captions come from the first of ``AllVideoDescriptions.txt``, ``annotations.txt`` (the same
format) or the official ``MSR Video Description Corpus.csv`` (its English rows). With
``youtube_mapping.txt`` the splits are the standard ones (vid1-1200 train, vid1201-1300 val,
vid1301-1970 test) and clips may also be stored as ``vid<N>.<ext>``; without it, splits come
from a hash of the clip name (:func:`~avseq.data.sources.splits.hash_split`).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from avseq.data.sources.base import Clip, Collected, VideoIndex, find_file, first_file, missing
from avseq.data.sources.splits import DEFAULT_FRACTIONS, hash_split
from avseq.errors import ConfigError

SOUND = False  # captions: the audio track is not needed
ANNOTATION_NAMES = ("AllVideoDescriptions.txt", "annotations.txt", "MSR Video Description Corpus.csv")
MAPPING_NAME = "youtube_mapping.txt"
STANDARD_SPLITS = (("train", 1, 1200), ("val", 1201, 1300), ("test", 1301, 1970))


def collect(
    root: str | Path,
    *,
    annotations: str | Path | None = None,
    mapping: str | Path | None = None,
    videos: str | Path | None = None,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
) -> Collected:
    """MSVD clips under ``root``: their captions, split and file (``videos``: folder of the clips,
    default ``root``). ``fractions`` split by hash when there is no mapping file."""
    root = Path(root)
    annotations = first_file(root, ANNOTATION_NAMES, "MSVD caption file", _path(annotations))
    mapping_path = _path(mapping) or find_file(root, [MAPPING_NAME])
    captions = read_captions(annotations)
    names = read_mapping(mapping_path) if mapping_path is not None else {}
    index = VideoIndex(_path(videos) or root)
    notes = (
        []
        if names
        else [
            f"no {MAPPING_NAME} in {root}: splits by a hash of the clip name "
            "(not the standard 1200/100/670; pass --mapping FILE for those)"
        ]
    )
    clips = []
    for name, caps in captions.items():
        split = standard_split(names.get(name)) or hash_split(name, fractions)
        path = index.find([name, names.get(name)])
        if path is None:
            clips.append(missing(name, split, f"named {name}.* in {index.root}", captions=tuple(caps)))
        else:
            clips.append(Clip(name, split, path, captions=tuple(caps)))
    return Collected(clips, notes)


def _path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value)


def read_captions(path: Path) -> dict[str, list[str]]:
    """Clip name -> captions, from the ``.txt`` (``name caption`` lines) or the official ``.csv``."""
    return _captions_csv(path) if path.suffix.lower() == ".csv" else _captions_txt(path)


def _captions_txt(path: Path) -> dict[str, list[str]]:
    captions: dict[str, list[str]] = defaultdict(list)
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, caption = line.partition(" ")
        if not caption.strip():
            raise ConfigError(f"{path}:{lineno}: expected '<video id> <caption>', got {line[:60]!r}")
        captions[name].append(caption.strip())
    return dict(captions)


def _captions_csv(path: Path) -> dict[str, list[str]]:
    captions: dict[str, list[str]] = defaultdict(list)
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        need = {"VideoID", "Start", "End", "Language", "Description"}
        if not need <= set(reader.fieldnames or []):
            raise ConfigError(f"{path}: MSVD CSV needs columns {sorted(need)}, got {reader.fieldnames}")
        for row in reader:
            text = (row["Description"] or "").strip()
            if row["Language"] == "English" and text:
                captions[f"{row['VideoID']}_{row['Start']}_{row['End']}"].append(text)
    return dict(captions)


def read_mapping(path: Path) -> dict[str, str]:
    """Clip name -> ``vid<N>`` from ``youtube_mapping.txt``."""
    names = {}
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[1].startswith("vid"):
            raise ConfigError(f"{path}:{lineno}: expected '<clip name> vid<N>', got {line[:60]!r}")
        names[parts[0]] = parts[1]
    return names


def standard_split(vid: str | None) -> str:
    """The standard split of ``vid<N>`` ('' when it is not one)."""
    if vid is None or not vid[3:].isdigit():
        return ""
    n = int(vid[3:])
    return next((name for name, lo, hi in STANDARD_SPLITS if lo <= n <= hi), "")


def read_text(path: Path) -> str:
    if not path.is_file():
        raise ConfigError(f"{path}: annotation file not found")
    return path.read_text(encoding="utf-8", errors="replace")
