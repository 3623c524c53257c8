"""A split of the synthetic world on disk: seeds per split, clip files, the manifest.

Splits draw seeds from disjoint ranges, so no clip can appear in two splits:

========  ==========================
split     clip seeds
========  ==========================
train     0 .. 999,999
val       1,000,000 .. 1,099,999
test      1,100,000 .. 1,199,999
========  ==========================

Clip ``i`` of a split uses seed ``start + seed_offset + i``. Files::

    OUT/<split>.jsonl               manifest (paths relative to OUT)
    OUT/<split>/<id>.mp4            H.264 + AAC clip
    OUT/<split>/<id>.json           the clip's manifest line (written last: marks it done)
    OUT/<split>_silent/<id>.mp4     optional copy without audio (demo input)
    OUT/<split>.config.json         the config used (a rerun must match it)

Any level's config renders here (:mod:`avseq.data.synth.levels`); level 2's clips share the seed
ranges and file names, and its config file names the level.
"""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tqdm import tqdm

from avseq.data.manifest import ManifestEntry, entry_from_json, write_manifest
from avseq.data.synth.config import SynthConfig, WorldConfig
from avseq.data.synth.heap import filled_heap
from avseq.data.synth.levels import level_of
from avseq.errors import ConfigError
from avseq.io.atomic import write_text_atomic
from avseq.io.encode import write_video

SPLIT_SEEDS: dict[str, tuple[int, int]] = {
    "train": (0, 1_000_000),
    "val": (1_000_000, 1_100_000),
    "test": (1_100_000, 1_200_000),
}


def clip_seed(split: str, index: int, seed_offset: int = 0) -> int:
    """Seed of clip ``index`` of ``split``; raises ConfigError outside the split's range."""
    if split not in SPLIT_SEEDS:
        raise ConfigError(f"Invalid split {split!r}. Supported: {', '.join(SPLIT_SEEDS)}")
    start, stop = SPLIT_SEEDS[split]
    seed = start + seed_offset + index
    if not start <= seed < stop:
        raise ConfigError(
            f"clip {index} with seed_offset {seed_offset} gives seed {seed}, outside the "
            f"{split} range [{start}, {stop})"
        )
    return seed


def write_clip(out_dir: Path, split: str, seed: int, config: WorldConfig, silent_copy: bool) -> ManifestEntry:
    """Render clip ``seed`` of ``config``'s level; write its MP4 (and silent copy) and its sidecar record."""
    clip = level_of(config).render(seed, config)
    clip_id = f"{split}_{seed:07d}"
    video = out_dir / split / f"{clip_id}.mp4"
    # One encoder thread: x264's output depends on its thread count (which "auto" takes from the
    # machine), so the same seed would give different bytes on different machines or worker layouts.
    # And a filled heap: x264 reads memory it never wrote, which otherwise depends on what the
    # process freed before (see avseq.data.synth.heap).
    opts = config.encode_options()
    silent = None
    with filled_heap():
        write_video(
            video, clip.frames, config.fps, audio=clip.audio, sample_rate=config.sample_rate, options=opts
        )
        if silent_copy:
            silent = write_video(
                out_dir / f"{split}_silent" / f"{clip_id}.mp4", clip.frames, config.fps, options=opts
            )
    entry = ManifestEntry(
        path=video.resolve(),
        id=clip_id,
        split=split,
        captions=tuple(clip.captions),
        events=tuple(clip.events),
        duration=clip.duration,
        fps=config.fps,
        sample_rate=config.sample_rate,
        attributes=clip.attributes,
        silent_path=silent.resolve() if silent else None,
    )
    write_text_atomic(video.with_suffix(".json"), json.dumps(entry.to_json(out_dir.resolve())))
    return entry


def _load_done(out_dir: Path, split: str, seed: int, silent_copy: bool) -> ManifestEntry | None:
    """The finished clip's entry, or None when its record or a file it needs is missing."""
    sidecar = out_dir / split / f"{split}_{seed:07d}.json"
    if not sidecar.is_file():
        return None
    try:
        entry = entry_from_json(json.loads(sidecar.read_text()), out_dir.resolve(), where=str(sidecar))
    except (json.JSONDecodeError, ConfigError):
        return None
    if not entry.path.is_file() or (silent_copy and not (entry.silent_path and entry.silent_path.is_file())):
        return None
    return entry


def _check_config(out_dir: Path, split: str, config: WorldConfig) -> None:
    stored = out_dir / f"{split}.config.json"
    text = json.dumps(config.to_dict(), sort_keys=True, indent=1)
    if stored.is_file() and (old := json.loads(stored.read_text())) != json.loads(text):
        level = old.get("level", 1) if isinstance(old, dict) else None
        what = f"a different {type(config).__name__}" if level == config.level else f"level {level}"
        raise ConfigError(
            f"{out_dir}: the {split} split there was made with {what} "
            f"(see {stored.name}); use another output folder or the same settings"
        )
    write_text_atomic(stored, text)


def generate_split(
    out_dir: str | Path,
    split: str,
    n: int,
    config: WorldConfig = SynthConfig(),
    seed_offset: int = 0,
    silent_copy: bool = False,
    *,
    workers: int = 1,
    progress: bool = True,
) -> Path:
    """Write ``n`` clips of ``split`` under ``out_dir`` and return the manifest path.

    Resumable: clips whose record already exists are kept, so a rerun after a
    crash renders only what is missing. Every file is written atomically, so
    parallel runs over the same folder never leave partial files. ``workers``
    > 1 renders in that many processes.
    """
    if n < 0:
        raise ConfigError(f"n must be >= 0, got {n}")
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    seeds = [clip_seed(split, i, seed_offset) for i in range(n)]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_config(out_dir, split, config)
    entries = {s: e for s in seeds if (e := _load_done(out_dir, split, s, silent_copy)) is not None}
    todo = [s for s in seeds if s not in entries]
    bar = tqdm(total=n, initial=n - len(todo), desc=f"synth {split}", disable=not progress, file=sys.stderr)
    args = [(out_dir, split, s, config, silent_copy) for s in todo]
    with bar:
        if workers == 1 or len(todo) < 2:
            for a in args:
                entries[a[2]] = write_clip(*a)
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=min(workers, os.cpu_count() or 1)) as pool:
                for a, entry in zip(args, pool.map(_write_clip_args, args), strict=True):
                    entries[a[2]] = entry
                    bar.update()
    return write_manifest(out_dir / f"{split}.jsonl", [entries[s] for s in seeds])


def _write_clip_args(args: tuple) -> ManifestEntry:
    return write_clip(*args)
