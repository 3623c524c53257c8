"""The Greatest Hits (Owens et al. 2016, "Visually Indicated Sounds"): a drumstick hitting and
scratching things, every hit annotated with its time, material and action.

The layout of the download (``vis-data``), one set of files per recording ``<name>`` (a date)::

    ROOT/<name>_denoised.mp4     the video with its (denoised) sound; <name>.mp4 is taken otherwise
    ROOT/<name>_times.txt        one line per hit: time (s), material, action, reaction
    ROOT/train.txt, test.txt     optional: the recordings of each split, one name per line

Each hit becomes an ``events`` entry of the manifest: ``time``, ``material``, ``kind`` (the action:
``hit`` or ``scratch``), ``object: "drumstick"``, ``strength: 1.0`` (not annotated); the reaction
(``static``, ``rigid-motion``, ...) goes to ``attributes.reactions``, one per event. ``None``
fields stay empty. The action is whichever column holds ``hit`` or ``scratch``, so files that
write ``time action material`` read the same. An annotation file that cannot be read leaves its
recording out (``bad_annotation``); a video without one, or (with the lists) a recording that
neither list names, is reported as ``unlisted``.

With ``train.txt`` and ``test.txt`` the splits are theirs, validation clips a fraction of the
training ones (:func:`~avseq.data.sources.splits.carve_val`); without them, a hash of the name
splits the recordings (:func:`~avseq.data.sources.splits.hash_split`).
"""

from __future__ import annotations

from pathlib import Path

from avseq.data.manifest import Event
from avseq.data.sources.base import Clip, Collected, Problem, missing
from avseq.data.sources.splits import (
    DEFAULT_FRACTIONS,
    DEFAULT_VAL_FRACTION,
    carve_val,
    check_fraction,
    hash_split,
)
from avseq.errors import ConfigError
from avseq.io.paths import VIDEO_EXTENSIONS

SOUND = True  # the audio track is the target
TIMES_SUFFIX = "_times.txt"
VIDEO_SUFFIXES = ("_denoised", "")
LIST_NAMES = {"train": "train.txt", "test": "test.txt"}
ACTIONS = ("hit", "scratch")
NONE = ("none", "nan", "-", "")
TOOL = "drumstick"


def collect(
    root: str | Path,
    *,
    val_fraction: float = DEFAULT_VAL_FRACTION,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
) -> Collected:
    """Greatest Hits recordings under ``root`` with their hits as events."""
    root = Path(root)
    check_fraction(val_fraction)
    times = {p.name[: -len(TIMES_SUFFIX)]: p for p in sorted(root.rglob(f"*{TIMES_SUFFIX}"))}
    if not times:
        raise ConfigError(
            f"{root}: no Greatest Hits annotations; expected <name>{TIMES_SUFFIX} files beside "
            "<name>_denoised.mp4 (the vis-data folder)"
        )
    lists = _read_lists(root)
    notes = []
    if not lists:
        notes.append(
            f"no {' / '.join(LIST_NAMES.values())} in {root}: splits by a hash of the recording name"
        )
    clips = []
    for name, times_path in times.items():
        if lists and name not in lists:
            problem = Problem(
                "unlisted", f"{times_path}: {name} is in neither {' nor '.join(LIST_NAMES.values())}"
            )
            clips.append(Clip(name, "", _find_video(times_path.parent, name), problem=problem))
        else:
            clips.append(_clip(name, _split(name, lists, fractions, val_fraction), times_path))
    for name in lists:
        if name not in times:
            where = f"or annotation {name}{TIMES_SUFFIX} in {root}"
            clips.append(missing(name, _split(name, lists, fractions, val_fraction), where))
    annotated = {c.path for c in clips if c.path is not None}
    for video in _videos(root):
        if video not in annotated:
            problem = Problem("unlisted", f"{video}: no {TIMES_SUFFIX} annotation file beside it")
            clips.append(Clip(_name(video), "", video, problem=problem))
    return Collected(clips, notes)


def _split(
    name: str, lists: dict[str, str], fractions: tuple[float, float, float], val_fraction: float
) -> str:
    """The list's split (validation clips carved from its train), else a hash split."""
    if not lists:
        return hash_split(name, fractions)
    return carve_val(name, val_fraction) if lists[name] == "train" else lists[name]


def _clip(name: str, split: str, times_path: Path) -> Clip:
    video = _find_video(times_path.parent, name)
    if video is None:
        return missing(name, split, f"{name}_denoised.mp4 or {name}.mp4 in {times_path.parent}")
    try:
        hits = read_times(times_path)
    except ConfigError as err:
        return Clip(name, split, video, problem=Problem("bad_annotation", str(err)))
    events = tuple(Event(t, TOOL, material, action, 1.0) for t, material, action, _ in hits)
    reactions = [reaction for *_, reaction in hits]
    attributes = {"reactions": reactions} if any(reactions) else {}
    return Clip(name, split, video, events=events, attributes=attributes)


def _find_video(folder: Path, name: str) -> Path | None:
    for suffix in VIDEO_SUFFIXES:
        for ext in sorted(VIDEO_EXTENSIONS):
            path = folder / f"{name}{suffix}{ext}"
            if path.is_file():
                return path
    return None


def _videos(root: Path) -> list[Path]:
    """The recordings' videos: ``*_denoised.<ext>`` files (not the ``_thumb`` copies)."""
    return sorted(p for p in root.rglob("*_denoised.*") if p.suffix.lower() in VIDEO_EXTENSIONS)


def _name(video: Path) -> str:
    return video.stem.removesuffix("_denoised")


def _read_lists(root: Path) -> dict[str, str]:
    if not all((root / n).is_file() for n in LIST_NAMES.values()):
        return {}
    out = {}
    for split, list_name in LIST_NAMES.items():
        for line in (root / list_name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                out[_name(Path(Path(line.strip()).name))] = split
    return out


def read_times(path: Path) -> list[tuple[float, str, str, str]]:
    """``(time, material, action, reaction)`` per hit line of a ``_times.txt`` file, in time order."""
    hits = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        tokens = line.replace(",", " ").split()
        if not tokens:
            continue
        try:
            time = float(tokens[0])
        except ValueError:
            if lineno == 1:
                continue  # a header line
            raise ConfigError(
                f"{path}:{lineno}: expected '<time> <material> <action> <reaction>', "
                f"got {line.strip()[:60]!r}"
            ) from None
        if not time >= 0:
            raise ConfigError(f"{path}:{lineno}: hit time {tokens[0]!r} is not a time in seconds")
        words = ["" if w.lower() in NONE else w for w in tokens[1:]]
        at = next((i for i, w in enumerate(words) if w.lower() in ACTIONS), None)
        action = "" if at is None else words.pop(at)
        rest = words + ["", ""]
        hits.append((time, rest[0], action.lower(), rest[1]))
    return sorted(hits, key=lambda hit: hit[0])
