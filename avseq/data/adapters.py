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

The annotation files are read by the ``avseq data`` sources (:mod:`avseq.data.sources.msvd`,
:mod:`avseq.data.sources.msrvtt`), which also probe every clip and report the ones left out;
these two functions are the plain readers over one folder of clips.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal, get_args

from avseq.data.manifest import ManifestEntry
from avseq.data.sources import msrvtt, msvd
from avseq.errors import ConfigError

VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".webm", ".mov")
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
    captions = msvd.read_captions(annotations)
    names = msvd.read_mapping(Path(mapping)) if mapping is not None else {}
    if split is not None and not names:
        raise ConfigError(f"MSVD split {split!r} needs the youtube_mapping.txt file (mapping=...)")
    entries, absent = [], []
    for name, caps in captions.items():
        clip_split = msvd.standard_split(names.get(name))
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
    entries, absent = [], []
    for vid, clip_split, captions, _ in msrvtt.read_annotations(annotations):
        if split is not None and clip_split != split:
            continue
        path = _find_video(Path(video_dir), [vid])
        if path is None:
            absent.append(vid)
            continue
        entries.append(ManifestEntry(path=path, id=vid, split=clip_split, captions=captions))
    _report_missing(absent, video_dir, missing)
    return entries


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
