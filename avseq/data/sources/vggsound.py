"""VGGSound (Chen et al. 2020): 10-second YouTube clips with sound, one label each.

``vggsound.csv`` has no header (a header line or ``#`` lines are skipped); each row is
``youtube id, start seconds, label, split`` (split ``train`` or ``test``; labels with a comma
are quoted). The clips are downloaded by each user,
so the files are found by a name format, by default the community's ``{ytid}_{start:06d}``
(``---g-f_I2yQ_000001.mp4``), with any video extension, in any folder under the videos folder.
``--name-format`` takes a Python format string over ``ytid``, ``start``, ``end`` (start + 10),
``start_ms``, ``end_ms``, ``label`` and ``split``: SpecVQGAN's ``{ytid}_{start_ms}_{end_ms}``, or
``{label}/{ytid}_{start:06d}`` for a folder per label.

VGGSound has no validation split: :func:`~avseq.data.sources.splits.carve_val` takes a fraction
of the training clips. Rows whose clip was never downloaded are reported as missing.
"""

from __future__ import annotations

import csv
from pathlib import Path

from avseq.data.sources.base import Clip, Collected, VideoIndex, first_file, missing
from avseq.data.sources.splits import DEFAULT_VAL_FRACTION, carve_val, check_fraction
from avseq.errors import ConfigError

SOUND = True  # the audio track is the target
CSV_NAME = "vggsound.csv"
DEFAULT_NAME_FORMAT = "{ytid}_{start:06d}"
CLIP_SECONDS = 10
_EXAMPLE = {
    "ytid": "x",
    "start": 0,
    "end": 10,
    "start_ms": 0,
    "end_ms": 10000,
    "label": "x",
    "split": "train",
}


def collect(
    root: str | Path,
    *,
    csv_path: str | Path | None = None,
    videos: str | Path | None = None,
    name_format: str = DEFAULT_NAME_FORMAT,
    val_fraction: float = DEFAULT_VAL_FRACTION,
) -> Collected:
    """VGGSound clips named by ``vggsound.csv`` (default: in ``root`` or one folder below), found
    under ``videos`` (default ``root``) by ``name_format``."""
    root = Path(root)
    check_fraction(val_fraction)
    check_name_format(name_format)
    table = first_file(root, [CSV_NAME], "VGGSound CSV", Path(csv_path) if csv_path else None)
    index = VideoIndex(Path(videos) if videos is not None else root)
    clips = []
    for row in read_rows(table):
        name = name_format.format(**row)
        split = carve_val(name, val_fraction) if row["split"] == "train" else "test"
        attributes = {"label": row["label"], "youtube_id": row["ytid"], "start": row["start"]}
        path = index.find([name])
        if path is None:
            clips.append(missing(name, split, f"named {name}.* in {index.root}", attributes=attributes))
        else:
            clips.append(Clip(name, split, path, attributes=attributes))
    return Collected(clips)


def check_name_format(name_format: str) -> None:
    """A ConfigError naming the bad format and the fields it may use."""
    try:
        name_format.format(**_EXAMPLE)
    except (KeyError, IndexError, ValueError) as err:
        fields = ", ".join(_EXAMPLE)
        raise ConfigError(
            f"Invalid name format {name_format!r} ({type(err).__name__}: {err}); fields: {fields}"
        ) from None


def read_rows(path: Path) -> list[dict]:
    """The rows of ``vggsound.csv`` as dicts of the name format's fields."""
    rows = []
    with path.open(newline="", encoding="utf-8") as f:
        for lineno, row in enumerate(csv.reader(f), start=1):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if lineno == 1 and len(row) > 1 and not row[1].strip().isdigit():
                continue  # a header line
            if len(row) != 4 or not row[1].strip().isdigit() or row[3].strip() not in ("train", "test"):
                raise ConfigError(
                    f"{path}:{lineno}: expected 'youtube id,start seconds,label,train|test', got {row!r}"
                )
            ytid, start, label, split = (v.strip() for v in row)
            start_s = int(start)
            end_s = start_s + CLIP_SECONDS
            rows.append(
                dict(
                    ytid=ytid,
                    start=start_s,
                    end=end_s,
                    start_ms=1000 * start_s,
                    end_ms=1000 * end_s,
                    label=label,
                    split=split,
                )
            )
    return rows
