"""Any folder of videos with sound: the audio track is the target, so no annotation is needed.

Every media file under the folder (recursively, by extension: :mod:`avseq.io.paths`) is a clip;
its id is its path relative to the folder without the suffix (``trip/day1/clip03``; with it when
two files differ only by their suffix: ``trip/day1/clip03.mov``). The split
of each comes from a hash of that relative path (:func:`~avseq.data.sources.splits.hash_split`,
``--split 0.8,0.1,0.1``): the same file lands in the same split on every run, and adding files
never moves the others. Audio-only files are probed like the rest and reported as ``no_video``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from avseq.data.sources.base import Clip, Collected
from avseq.data.sources.splits import DEFAULT_FRACTIONS, hash_split
from avseq.errors import ConfigError
from avseq.io.paths import media_in_folder

SOUND = True  # the audio track is the target


def collect(root: str | Path, *, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS) -> Collected:
    """Every media file under ``root``, split by a hash of its relative path."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root}: folder not found")
    files = media_in_folder(root)
    if not files:
        raise ConfigError(f"{root}: no media files (known video extensions such as .mp4, .mkv, .avi, .webm)")
    rels = [path.relative_to(root).as_posix() for path in files]
    stems = Counter(Path(rel).with_suffix("").as_posix() for rel in rels)
    clips = []
    for path, rel in zip(files, rels, strict=True):
        stem = Path(rel).with_suffix("").as_posix()
        clips.append(Clip(stem if stems[stem] == 1 else rel, hash_split(rel, fractions), path))
    return Collected(clips)
