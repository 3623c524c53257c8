"""Which files a folder or a glob names: the one rule shared by pipeline inputs and ``avseq probe``.

- a folder: its media files (by extension, case-insensitive), recursively, in sorted walk order;
- a glob (``clips/**/*.mp4``, ``**`` recursive): the regular files it matches, sorted, any extension.

Paths come back as found (joined to the folder, or as the glob wrote them), not resolved.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

VIDEO_EXTENSIONS = {
    ".mp4",
    ".m4v",
    ".mkv",
    ".webm",
    ".avi",
    ".mov",
    ".mpg",
    ".mpeg",
    ".ts",
    ".flv",
    ".wmv",
    ".3gp",
    ".ogv",
}
AUDIO_EXTENSIONS = {".m4a", ".mp3", ".wav", ".flac", ".ogg", ".opus", ".aac"}
MEDIA_EXTENSIONS = VIDEO_EXTENSIONS | AUDIO_EXTENSIONS


def is_media_name(path: str | Path) -> bool:
    """True when ``path``'s extension is a known audio or video one."""
    return Path(path).suffix.lower() in MEDIA_EXTENSIONS


def media_in_folder(folder: str | Path) -> list[Path]:
    """Media files under ``folder`` (recursive), folders and names visited in sorted order."""
    out = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        out.extend(Path(root) / name for name in sorted(files) if is_media_name(name))
    return out


def glob_files(pattern: str) -> list[Path]:
    """Regular files matching ``pattern`` (``**`` recursive), sorted; [] when none match."""
    return [Path(m) for m in sorted(glob.glob(pattern, recursive=True)) if Path(m).is_file()]
