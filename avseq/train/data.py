"""Training data wiring: splits on disk, datasets, the feature cache and seeded batch order.

The batch order of epoch ``e`` is a permutation drawn from ``(seed, e)`` alone,
so a run resumed at step ``s`` replays exactly the batches an uninterrupted run
sees: epoch ``s // steps_per_epoch``, skipping its first ``s % steps_per_epoch``.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from avseq.bundles import Preprocessing
from avseq.data import ManifestEntry, generate_split, read_manifest
from avseq.data.augment import Mirror
from avseq.data.collate import collate_caption, collate_classify, collate_dense, collate_sound
from avseq.data.datasets import (
    CaptionDataset,
    ClassifyDataset,
    DenseCaptionDataset,
    SoundDataset,
    SoundExample,
    span_events,
)
from avseq.data.feature_cache import FEATURE_CACHE, FeatureCache, encoder_cache
from avseq.data.synth import config_from_dict
from avseq.data.synth.config import WorldConfig
from avseq.errors import ConfigError
from avseq.models import Tokenizer
from avseq.train.config import TrainConfig
from avseq.types import Frames


def data_root(cfg: TrainConfig, run_dir: Path) -> Path:
    """Folder for generated splits and the feature cache."""
    return cfg.data.root if cfg.data.root is not None else run_dir / "data"


def synth_config(cfg: TrainConfig) -> WorldConfig:
    """The synthetic world config of ``data.synth`` (``level: 2`` for the second level; 1 when
    absent); a bad key or value raises ConfigError naming it."""
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in (cfg.data.synth or {}).items()}
    try:
        return config_from_dict(values)
    except (TypeError, ConfigError) as err:
        raise ConfigError(f"{cfg.source}: data.synth: {err}") from None


def split_manifests(cfg: TrainConfig, run_dir: Path, progress: bool = True) -> dict[str, Path]:
    """Manifest path per split, generating synthetic splits that are missing (resumable)."""
    manifests = dict(cfg.data.manifests)
    if cfg.data.folder is not None:
        manifests.update(folder_manifests(cfg, run_dir))
    if cfg.data.splits:
        root = data_root(cfg, run_dir)
        synth = synth_config(cfg)
        for name, spec in cfg.data.splits.items():
            manifests[name] = generate_split(
                root, name, spec.clips, synth, spec.seed_offset, progress=progress
            )
    return manifests


def folder_manifests(cfg: TrainConfig, run_dir: Path) -> dict[str, Path]:
    """The manifests of ``data.folder``, written into the data root (beside the feature cache, as
    generated splits are, so ``avseq eval --data <root>`` finds both) as ``avseq data folder``
    writes them: every file probed in parallel, the clips without usable sound left out and listed
    in ``report.jsonl`` there (counted on stderr), the rest split by a hash of their path.
    Rewritten on every start, so a resumed run sees the same clips as long as the folder holds the
    same files."""
    from avseq.data.sources import Checks, build_manifests
    from avseq.data.sources import folder as source

    collected = source.collect(cfg.data.folder, fractions=cfg.data.folder_split)
    out = data_root(cfg, run_dir)
    result = build_manifests(
        "folder", collected.clips, out, Checks(sound=source.SOUND), workers=os.cpu_count() or 1
    )
    print(result.summary_line(), file=sys.stderr)
    if result.left_out:
        print(f"warning: {result.left_out_line()}", file=sys.stderr)
    if result.kept == 0:
        raise ConfigError(f"data.folder {cfg.data.folder}: no clip can be used; see {out / 'report.jsonl'}")
    return result.manifests


def load_entries(manifest: Path, split: str, limit: int | None = None) -> list[ManifestEntry]:
    """Entries of ``manifest`` (those of ``split`` when the manifest mixes splits), at most ``limit``."""
    entries = read_manifest(manifest)
    if any(e.split for e in entries) and any(e.split == split for e in entries):
        entries = [e for e in entries if e.split == split]
    if not entries:
        raise ConfigError(f"{manifest}: no clips for split {split!r}")
    return entries[:limit] if limit else entries


def preprocessing(cfg: TrainConfig) -> Preprocessing:
    """The config's preprocessing as the bundle record; errors name the config file."""
    try:
        return Preprocessing.from_dict(dict(cfg.preprocessing))
    except (ConfigError, TypeError) as err:
        raise ConfigError(f"{cfg.source}: preprocessing: {err}") from None


def build_tokenizer(entries: Sequence[ManifestEntry], min_count: int = 1, events: bool = False) -> Tokenizer:
    """Vocabulary of the training captions (deterministic for the same entries); ``events``: of
    their events' captions (dense captioning) instead of the clips'."""
    if events:
        return Tokenizer.build(
            [c for e in entries for ev in span_events(e) for c in ev.captions], min_count=min_count
        )
    return Tokenizer.build([c for e in entries for c in e.captions], min_count=min_count)


def make_dataset(
    kind: str,
    entries: Sequence[ManifestEntry],
    prep: Preprocessing,
    tokenizer: Tokenizer | None,
    *,
    seed: int,
    train: bool,
    cache=None,
    in_memory: bool = False,
    captions_per_clip: int = 1,
    keep_frames: bool = False,
    classes: dict[str, list[str]] | None = None,
    mirror: float = 0.0,
    mirror_words: dict[str, str] | None = None,
) -> Dataset:
    """A sound, caption (``caption``, ``frame_caption``), dense caption or classify dataset over
    ``entries``, reading cached features when ``cache`` is set.

    Training caption sets draw ``captions_per_clip`` of each clip's captions per epoch;
    validation uses the first.
    cache: an :class:`avseq.data.feature_cache.FeatureCache` (frozen encoders only);
    in_memory: otherwise, or with ``keep_frames``, keep decoded clips in memory (:class:`MemoryCache`).
    keep_frames: ``cache`` holds the frozen members' features of a partly frozen encoder
    (``feature_cache(..., part=True)``): examples carry frames and those features.
    classes: classify: attribute -> class names (:func:`avseq.data.datasets.attribute_classes`).
    mirror: training sets show each clip mirrored left-right with this probability per epoch
    (:class:`avseq.data.augment.Mirror`), swapping ``mirror_words`` in its captions.
    """
    if kind == "sound":
        ds = SoundDataset(entries, prep)
    elif kind == "classify":
        ds = ClassifyDataset(entries, prep, classes or {})
    elif kind == "dense_caption":
        ds = DenseCaptionDataset(entries, prep, tokenizer, "random" if train else "first", seed=seed)
    else:
        choice, per_clip = ("random", captions_per_clip) if train else ("first", 1)
        ds = CaptionDataset(entries, prep, tokenizer, choice, seed=seed, captions_per_clip=per_clip)
    if cache is None or keep_frames:
        ds = MemoryCache(ds) if in_memory else ds
    if train and mirror > 0:
        ds = Mirror(ds, mirror, seed, mirror_words)
    if cache is None:
        return ds
    from avseq.data.feature_cache import CachedFeatureDataset

    return CachedFeatureDataset(ds, cache, keep_frames=keep_frames)


def feature_cache(
    cfg: TrainConfig,
    run_dir: Path,
    system: torch.nn.Module,
    prep: Preprocessing,
    device: torch.device,
    part: bool = False,
) -> FeatureCache:
    """The on-disk cache of the (frozen) encoder's features, in the data folder's ``feature_cache``;
    ``part``: of the frozen members of a partly frozen encoder (see :func:`encoder_cache`)."""
    return encoder_cache(data_root(cfg, run_dir) / FEATURE_CACHE, system, prep, device, part)


def target_levels(dataset: Dataset, floor: float | None = None, clips: int = 64) -> tuple[torch.Tensor, ...]:
    """Levels of the first ``clips`` targets of a sound dataset, each ``(n_mels,)``: their mean
    raised to ``floor``; with a floor, also the mean of the values below it (the floor where
    a band never goes below it). Reads the targets only (``dataset.target``; the caching
    wrappers forward it), no video.
    """
    targets = [dataset.target(i)[0] for i in range(min(clips, len(dataset)))]
    mel = torch.cat(targets, dim=1)
    if floor is None:
        return (mel.mean(1),)
    below = mel < floor
    quiet = (mel * below).sum(1) / below.sum(1).clamp_min(1)
    return mel.clamp_min(floor).mean(1), torch.where(below.any(1), quiet, torch.full_like(quiet, floor))


def collate_fn(kind: str, pad_id: int = 0):
    if kind == "sound":
        return collate_sound
    if kind == "classify":
        return collate_classify
    return functools.partial(collate_dense if kind == "dense_caption" else collate_caption, pad_id=pad_id)


@dataclass(frozen=True)
class EpochPlan:
    """Batches of one epoch as lists of dataset indices."""

    epoch: int
    batches: list[list[int]]


def steps_per_epoch(n_items: int, batch_size: int) -> int:
    """Full batches per epoch (a smaller last batch is dropped when one full batch exists)."""
    return max(1, n_items // batch_size)


def epoch_plan(n_items: int, batch_size: int, seed: int, epoch: int) -> EpochPlan:
    """The shuffled batches of ``epoch``: a pure function of ``(n_items, batch_size, seed, epoch)``."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    order = torch.randperm(n_items, generator=gen).tolist()
    n = steps_per_epoch(n_items, batch_size)
    return EpochPlan(epoch, [order[i * batch_size : (i + 1) * batch_size] for i in range(n)])


def loader(
    dataset: Dataset, batches: list[list[int]], kind: str, num_workers: int, seed: int, pad_id: int = 0
) -> DataLoader:
    """A DataLoader over fixed index ``batches``; its own generator keeps the global RNG untouched."""
    return DataLoader(
        dataset,
        batch_sampler=batches,
        collate_fn=collate_fn(kind, pad_id),
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
    )


def eval_batches(n_items: int, batch_size: int) -> list[list[int]]:
    """Every item once, in order."""
    return [list(range(i, min(i + batch_size, n_items))) for i in range(0, n_items, batch_size)]


class MemoryCache(Dataset):
    """Keeps each clip's decoded frames (as uint8) and sound target in memory after first use.

    For encoders that train (so features cannot be cached): epochs after the first
    decode nothing. Frames in [0, 1] are stored as ``round(x * 255)`` uint8, which is
    exact for frames decoded at their stored size and within 1/510 otherwise.
    Memory: about ``T * 3 * H * W`` bytes per clip.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self._frames: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self._targets: dict[str, tuple[torch.Tensor, float]] = {}

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name: str):
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)  # entry, set_epoch, preprocessing...

    def load_video(self, index: int) -> Frames:
        """Frames of item ``index``, decoded on first use and kept."""
        key = str(self.dataset.entry(index).path)
        if key not in self._frames:
            frames = self.dataset.load_video(index)
            self._frames[key] = ((frames.data * 255).round().to(torch.uint8), frames.pts)
        data, pts = self._frames[key]
        return Frames(data.float() / 255, pts)

    def target(self, index: int) -> tuple[torch.Tensor, float]:
        """The sound dataset's ``target(index)``, decoded once."""
        key = str(self.dataset.entry(index).path)
        if key not in self._targets:
            self._targets[key] = self.dataset.target(index)
        return self._targets[key]

    def make_example(self, index: int, video):
        """The example of item ``index`` with ``video``, its sound target read once."""
        if not isinstance(self.dataset, SoundDataset):
            return self.dataset.make_example(index, video)
        target, duration = self.target(index)
        rate = self.dataset.preprocessing.recipe.frame_rate
        return SoundExample.of(self.dataset.entry(index), video, target, rate, duration)

    def __getitem__(self, index: int):
        return self.make_example(index, self.load_video(index))
