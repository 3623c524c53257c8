"""VAS, the Visually Aligned Sound dataset (RegNet, Chen et al. 2020; used by SpecVQGAN): eight
classes of clips with sound, a folder per class.

Two layouts are read, SpecVQGAN's and RegNet's::

    ROOT/videos/<class>/video_<NNNNN>.mp4        (SpecVQGAN: data/vas)
    ROOT/<class>/videos/video_<NNNNN>.mp4        (RegNet: data/VAS)

Splits come from SpecVQGAN's lists ``vas_train.txt`` and ``vas_valid.txt`` (``<class>/video_<NNNNN>``
lines; looked for in ROOT and beside it, as in SpecVQGAN's ``data/``): the ``vas_valid.txt``
clips, which RegNet calls its test set, are the test split; a file on disk that neither list
names is reported as ``unlisted``. Without the lists, RegNet's own rule (``gen_list.py``) makes
them again: per class, the clips sorted by number, the last 128 (dog, fireworks, baby, drum) or
64 (the other classes) are the test split. Validation clips are a fraction of the training clips
(:func:`~avseq.data.sources.splits.carve_val`). Ids are ``<class>/video_<NNNNN>``; the class is
the clip's ``attributes.class``.
"""

from __future__ import annotations

from pathlib import Path

from avseq.data.sources.base import Clip, Collected, Problem, missing
from avseq.data.sources.splits import DEFAULT_VAL_FRACTION, carve_val, check_fraction
from avseq.errors import ConfigError
from avseq.io.paths import media_in_folder

SOUND = True  # the audio track is the target
LIST_NAMES = {"train": "vas_train.txt", "test": "vas_valid.txt"}
REGNET_TEST_CLIPS = {"dog": 128, "fireworks": 128, "baby": 128, "drum": 128}
REGNET_TEST_CLIPS_OTHER = 64


def collect(
    root: str | Path,
    *,
    lists: str | Path | None = None,
    val_fraction: float = DEFAULT_VAL_FRACTION,
) -> Collected:
    """VAS clips under ``root`` (either layout); ``lists``: the folder of ``vas_train.txt`` and
    ``vas_valid.txt`` (default: ``root``, then its parent)."""
    root = Path(root)
    check_fraction(val_fraction)
    files = class_files(root)
    list_dir = _list_dir(root, Path(lists) if lists is not None else None)
    if list_dir is None:
        note = (
            f"no {LIST_NAMES['train']} / {LIST_NAMES['test']} in {root} or {root.parent}: "
            "test clips by RegNet's rule (the last 128 or 64 of each class)"
        )
        return Collected(_regnet_split(files, val_fraction), [note])
    listed = {cid: split for split, name in LIST_NAMES.items() for cid in read_list(list_dir / name)}
    clips = []
    for cid, split in listed.items():
        split = carve_val(cid, val_fraction) if split == "train" else split
        attributes = {"class": cid.split("/")[0]}
        if cid in files:
            clips.append(Clip(cid, split, files[cid], attributes=attributes))
        else:
            clips.append(missing(cid, split, f"for {cid} in {root}", attributes=attributes))
    names = " or ".join(LIST_NAMES.values())
    for cid, path in files.items():
        if cid not in listed:
            unlisted = Problem("unlisted", f"{path}: not in {names} ({list_dir})")
            clips.append(Clip(cid, "", path, attributes={"class": cid.split("/")[0]}, problem=unlisted))
    return Collected(clips)


def class_files(root: Path) -> dict[str, Path]:
    """``<class>/<stem>`` -> file, for either layout; a ConfigError names both when neither fits."""
    if (root / "videos").is_dir():
        folders = {d.name: d for d in sorted((root / "videos").iterdir()) if d.is_dir()}
    elif root.is_dir():
        folders = {d.name: d / "videos" for d in sorted(root.iterdir()) if (d / "videos").is_dir()}
    else:
        raise ConfigError(f"{root}: folder not found")
    files = {f"{cls}/{p.stem}": p for cls, folder in folders.items() for p in media_in_folder(folder)}
    if not files:
        raise ConfigError(
            f"{root}: no VAS clips; expected videos/<class>/video_<N>.mp4 (SpecVQGAN's data/vas) "
            "or <class>/videos/video_<N>.mp4 (RegNet's data/VAS)"
        )
    return dict(sorted(files.items(), key=lambda item: _order(item[0])))


def _order(cid: str) -> tuple[str, int, str]:
    cls, _, stem = cid.partition("/")
    number = stem.rsplit("_", 1)[-1]
    return cls, int(number) if number.isdigit() else -1, stem


def _list_dir(root: Path, given: Path | None) -> Path | None:
    if given is not None:
        absent = [n for n in LIST_NAMES.values() if not (given / n).is_file()]
        if absent:
            raise ConfigError(f"{given}: no {' or '.join(absent)} (VAS split lists)")
        return given
    for folder in (root, root.parent):
        if all((folder / n).is_file() for n in LIST_NAMES.values()):
            return folder
    return None


def read_list(path: Path) -> list[str]:
    """The ``<class>/video_<NNNNN>`` lines of one split list."""
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line]


def _regnet_split(files: dict[str, Path], val_fraction: float) -> list[Clip]:
    by_class: dict[str, list[str]] = {}
    for cid in files:
        by_class.setdefault(cid.split("/")[0], []).append(cid)
    clips = []
    for cls, ids in by_class.items():
        n_test = REGNET_TEST_CLIPS.get(cls, REGNET_TEST_CLIPS_OTHER)
        for i, cid in enumerate(ids):
            split = "test" if i >= len(ids) - n_test else carve_val(cid, val_fraction)
            clips.append(Clip(cid, split, files[cid], attributes={"class": cls}))
    return clips
