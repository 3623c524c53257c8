"""MSR-VTT (Xu et al. 2016): captions.

The layout of the official download::

    ROOT/
      train_val_videodatainfo.json   'videos' (video_id, category, split: train | validate) and
                                     'sentences' (video_id, caption), 20 per clip
      test_videodatainfo.json        the same for the 2990 test clips (split: test)
      TrainValVideo/video0.mp4 ...   the clips, <video_id>.mp4, in any folders under ROOT
      TestVideo/video7010.mp4 ...

The two JSON files may sit in ROOT or one folder below it (either one alone is read, e.g.
before the test clips are downloaded). A single ``MSRVTT_data.json`` of the same form (all
three splits) is read when both are absent. ``validate`` becomes ``val``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from avseq.data.sources.base import Clip, Collected, Problem, VideoIndex, find_file, missing
from avseq.errors import ConfigError

SOUND = False  # captions: the audio track is not needed
ANNOTATION_NAMES = ("train_val_videodatainfo.json", "test_videodatainfo.json")
COMBINED_NAME = "MSRVTT_data.json"
SPLIT_NAMES = {"train": "train", "validate": "val", "val": "val", "test": "test"}


def collect(
    root: str | Path, *, annotations: list[str | Path] | None = None, videos: str | Path | None = None
) -> Collected:
    """MSR-VTT clips under ``root`` with their captions, split and file; ``annotations``: the JSON
    files to read instead of finding them; ``videos``: folder of the clips (default ``root``)."""
    root = Path(root)
    files = [Path(a) for a in annotations] if annotations else _annotation_files(root)
    index = VideoIndex(Path(videos) if videos is not None else root)
    clips = []
    for path in files:
        for vid, split, caps, attributes in read_annotations(path):
            found = index.find([vid])
            if found is None:
                clips.append(
                    missing(
                        vid, split, f"named {vid}.* in {index.root}", captions=caps, attributes=attributes
                    )
                )
            elif not caps:
                no_caps = Problem("no_captions", f"{path}: no sentence for {vid}")
                clips.append(Clip(vid, split, found, attributes=attributes, problem=no_caps))
            else:
                clips.append(Clip(vid, split, found, captions=caps, attributes=attributes))
    return Collected(clips)


def _annotation_files(root: Path) -> list[Path]:
    found = [p for p in (find_file(root, [name]) for name in ANNOTATION_NAMES) if p is not None]
    combined = find_file(root, [COMBINED_NAME])
    if not found and combined is None:
        raise ConfigError(
            f"{root}: no MSR-VTT annotations; expected {' and '.join(ANNOTATION_NAMES)} "
            f"(or {COMBINED_NAME}) in this folder or one below it"
        )
    return found or [combined]


def read_annotations(path: Path) -> list[tuple[str, str, tuple[str, ...], dict[str, Any]]]:
    """``(video_id, split, captions, attributes)`` per video of one ``videos`` + ``sentences`` file."""
    doc = load_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("videos"), list):
        raise ConfigError(f"{path}: expected a JSON object with 'videos' and 'sentences' lists")
    captions: dict[str, list[str]] = defaultdict(list)
    for sentence in doc.get("sentences", []):
        captions[str(sentence["video_id"])].append(str(sentence["caption"]).strip())
    out = []
    for video in doc["videos"]:
        vid, raw = str(video["video_id"]), str(video.get("split", ""))
        if raw not in SPLIT_NAMES:
            raise ConfigError(f"{path}: video {vid!r} has split {raw!r}; expected train, validate or test")
        attributes = {"category": video["category"]} if "category" in video else {}
        out.append((vid, SPLIT_NAMES[raw], tuple(captions.get(vid, ())), attributes))
    return out


def load_json(path: Path) -> Any:
    if not path.is_file():
        raise ConfigError(f"{path}: annotation file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: invalid JSON at line {err.lineno} ({err.msg})") from None
