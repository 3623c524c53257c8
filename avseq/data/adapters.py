"""Adapters for public caption datasets: MSVD and MSR-VTT annotations -> :class:`ManifestEntry`.

MSVD (Chen & Dolan 2011) comes as a folder of clips named ``<youtube id>_<start>_<end>.avi``
plus captions in one of two forms:

- a text file of ``<clip name> <caption words>`` lines (``AllVideoDescriptionDataset.txt``,
  ``annotations.txt``); ``#`` lines are comments;
- the official ``MSR Video Description Corpus.csv`` (columns VideoID, Start, End, ...,
  Language, Description), of which the English rows are used.

An optional ``youtube_mapping.txt`` (``<clip name> vid<N>`` lines) gives the standard
split: vid1-1200 train, vid1201-1300 val, vid1301-1970 test; clips may then also be
stored as ``vid<N>.<ext>``.

MSR-VTT (Xu et al. 2016): ``train_val_videodatainfo.json`` / ``test_videodatainfo.json``
or ``MSRVTT_data.json``, each with ``videos`` (``video_id``, ``split``: train, validate,
test) and ``sentences`` (``video_id``, ``caption``); clips are ``<video_id>.mp4``.
"""

from __future__ import annotations

import csv
import json
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Literal, get_args

from avseq.data.manifest import ManifestEntry
from avseq.errors import ConfigError

VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".webm", ".mov")
MSVD_SPLITS = (("train", 1, 1200), ("val", 1201, 1300), ("test", 1301, 1970))
MSRVTT_SPLITS = {"train": "train", "validate": "val", "val": "val", "test": "test"}
Missing = Literal["skip", "error"]


def read_msvd(
    video_dir: str | Path,
    annotations: str | Path,
    *,
    mapping: str | Path | None = None,
    split: str | None = None,
    missing: Missing = "skip",
) -> list[ManifestEntry]:
    """MSVD clips with their captions, optionally one split (needs ``mapping``).

    annotations: the ``.txt`` (``name caption``) or the official ``.csv``.
    missing: "skip" clips whose video file is absent (with one warning), or "error".
    """
    annotations = Path(annotations)
    _check_missing(missing)
    captions = _msvd_csv(annotations) if annotations.suffix.lower() == ".csv" else _msvd_txt(annotations)
    names = _msvd_mapping(Path(mapping)) if mapping is not None else {}
    if split is not None and not names:
        raise ConfigError(f"MSVD split {split!r} needs the youtube_mapping.txt file (mapping=...)")
    entries, absent = [], []
    for name, caps in captions.items():
        clip_split = _msvd_split(names.get(name))
        if split is not None and clip_split != split:
            continue
        path = _find_video(Path(video_dir), [name, names.get(name)])
        if path is None:
            absent.append(name)
            continue
        entries.append(ManifestEntry(path=path, id=name, split=clip_split, captions=tuple(caps)))
    _report_missing(absent, video_dir, missing)
    return entries


def _check_missing(missing: str) -> None:
    if missing not in get_args(Missing):
        raise ConfigError(f"Invalid missing {missing!r}. Supported: {', '.join(get_args(Missing))}")


def _msvd_txt(path: Path) -> dict[str, list[str]]:
    captions: dict[str, list[str]] = defaultdict(list)
    for lineno, line in enumerate(_read_text(path).splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, caption = line.partition(" ")
        if not caption.strip():
            raise ConfigError(f"{path}:{lineno}: expected '<video id> <caption>', got {line[:60]!r}")
        captions[name].append(caption.strip())
    return dict(captions)


def _msvd_csv(path: Path) -> dict[str, list[str]]:
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


def _msvd_mapping(path: Path) -> dict[str, str]:
    names = {}
    for lineno, line in enumerate(_read_text(path).splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[1].startswith("vid"):
            raise ConfigError(f"{path}:{lineno}: expected '<clip name> vid<N>', got {line[:60]!r}")
        names[parts[0]] = parts[1]
    return names


def _msvd_split(vid: str | None) -> str:
    if vid is None or not vid[3:].isdigit():
        return ""
    n = int(vid[3:])
    return next((name for name, lo, hi in MSVD_SPLITS if lo <= n <= hi), "")


def read_msrvtt(
    video_dir: str | Path,
    annotations: str | Path,
    *,
    split: str | None = None,
    missing: Missing = "skip",
) -> list[ManifestEntry]:
    """MSR-VTT clips with their captions from a ``videos`` + ``sentences`` JSON file.

    split: "train", "val" (MSR-VTT's "validate") or "test"; None keeps all.
    """
    annotations = Path(annotations)
    _check_missing(missing)
    doc = _load_json(annotations)
    if not isinstance(doc, dict) or not isinstance(doc.get("videos"), list):
        raise ConfigError(f"{annotations}: expected a JSON object with 'videos' and 'sentences' lists")
    captions: dict[str, list[str]] = defaultdict(list)
    for sentence in doc.get("sentences", []):
        captions[str(sentence["video_id"])].append(str(sentence["caption"]).strip())
    entries, absent = [], []
    for video in doc["videos"]:
        vid, raw_split = str(video["video_id"]), str(video.get("split", ""))
        clip_split = MSRVTT_SPLITS.get(raw_split, raw_split)
        if split is not None and clip_split != split:
            continue
        path = _find_video(Path(video_dir), [vid])
        if path is None:
            absent.append(vid)
            continue
        entries.append(
            ManifestEntry(path=path, id=vid, split=clip_split, captions=tuple(captions.get(vid, ())))
        )
    _report_missing(absent, video_dir, missing)
    return entries


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise ConfigError(f"{path}: annotation file not found")
    return path.read_text(encoding="utf-8", errors="replace")


def _load_json(path: Path):
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: invalid JSON at line {err.lineno} ({err.msg})") from None


def _find_video(video_dir: Path, names: list[str | None]) -> Path | None:
    for name in names:
        for suffix in VIDEO_SUFFIXES if name else ():
            candidate = video_dir / f"{name}{suffix}"
            if candidate.is_file():
                return candidate.resolve()
    return None


def _report_missing(absent: list[str], video_dir: str | Path, missing: Missing) -> None:
    if not absent:
        return
    message = f"{len(absent)} annotated clips have no video file in {video_dir} (first: {absent[0]!r})"
    if missing == "error":
        raise ConfigError(message)
    warnings.warn(message + "; skipped", stacklevel=3)
