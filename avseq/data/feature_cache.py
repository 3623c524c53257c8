"""Per-clip frame features computed once by a frozen encoder and kept as safetensors files.

A cached item is keyed by the SHA-256 of the clip file's bytes, the full
preprocessing and the encoder identity (its name plus a hash of its weights),
so editing a clip, changing fps / frame size / mel recipe or retraining the
encoder all miss the cache instead of returning stale features. Layout::

    CACHE/<k[:2]>/<k>.safetensors      tensors of one item (written atomically)

Sound targets (log-mel of the clip's audio) can be cached the same way, keyed
by the file hash, the mel recipe and the duration. ``stats`` counts hits and
misses per kind so tests and logs can see the cache working.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import Dataset
from tqdm import tqdm

from avseq.bundles.preprocessing import Preprocessing
from avseq.data.clips import clip_duration
from avseq.data.datasets import ClipDataset, FramesWithCache, SoundDataset, SoundExample
from avseq.io.atomic import atomic_path
from avseq.models.systems import encoder_configs
from avseq.types import Frames

CACHE_FORMAT = 1


@dataclass
class CacheStats:
    """Hit and miss counts of one kind of cached item."""

    hits: int = 0
    misses: int = 0


def weights_hash(module: nn.Module) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of ``module``'s state dict (parameters + buffers)."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}|{t.dtype}|{tuple(tensor.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


@dataclass
class TensorStore:
    """A folder of safetensors files addressed by the hash of a JSON key document."""

    root: Path
    stats: dict[str, CacheStats] = field(default_factory=dict)
    _file_hashes: dict[tuple, str] = field(default_factory=dict, repr=False)

    def file_hash(self, path: str | Path) -> str:
        """SHA-256 of the file's bytes (memoized per path, size and modification time)."""
        st = Path(path).stat()
        memo = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
        if memo not in self._file_hashes:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            self._file_hashes[memo] = h.hexdigest()
        return self._file_hashes[memo]

    def location(self, key: dict[str, Any]) -> Path:
        """File holding the item of ``key`` (a JSON-able document)."""
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
        return Path(self.root) / digest[:2] / f"{digest}.safetensors"

    def fetch(
        self, kind: str, key: dict[str, Any], compute: Callable[[], dict[str, torch.Tensor]]
    ) -> dict[str, torch.Tensor]:
        """The stored tensors of ``key``, or ``compute()``'s, stored atomically on a miss.

        An unreadable (e.g. truncated) file counts as a miss and is rewritten.
        """
        stats = self.stats.setdefault(kind, CacheStats())
        where = self.location({"kind": kind, "format": CACHE_FORMAT, **key})
        if where.is_file():
            try:
                tensors = load_file(where)
                stats.hits += 1
                return tensors
            except (SafetensorError, OSError):
                pass
        stats.misses += 1
        tensors = {k: v.detach().cpu().contiguous() for k, v in compute().items()}
        with atomic_path(where) as tmp:
            save_file(tensors, str(tmp), metadata={"kind": kind})
        return tensors


class FeatureCache:
    """Frame features of a frozen ``encoder`` for clips prepared per ``preprocessing``.

    encoder: called as ``encoder(frames (1, T, 3, H, W), lengths (1,)) -> (1, T, D)``
    (e.g. :class:`avseq.models.encoders.FrameEncoder`); it is put in eval mode.
    encoder_name: its registry name or any stable label.
    """

    def __init__(
        self,
        root: str | Path,
        encoder: nn.Module,
        encoder_name: str,
        preprocessing: Preprocessing,
        device: torch.device | str = "cpu",
    ) -> None:
        self.store = TensorStore(Path(root))
        self.encoder = encoder.to(device)
        self.device = torch.device(device)
        self.preprocessing = preprocessing
        self.identity = {
            "encoder": encoder_name,
            "weights": weights_hash(encoder),
            "preprocessing": preprocessing.to_dict(),
        }

    @property
    def stats(self) -> CacheStats:
        """Hits and misses of feature lookups."""
        return self.store.stats.setdefault("features", CacheStats())

    def features(
        self, path: str | Path, load: Callable[[], Frames], variant: str | None = None
    ) -> torch.Tensor:
        """Features (T, D) float32 of the clip at ``path``; ``load()`` gives its frames on a miss.

        variant: the clip seen another way (e.g. mirrored, :mod:`avseq.data.augment`), cached
        apart from its own features.
        """
        key = {"file": self.store.file_hash(path), **self.identity}
        if variant is not None:
            key["variant"] = variant
        return self.store.fetch("features", key, lambda: {"features": self._encode(load())})["features"]

    @torch.no_grad()
    def _encode(self, frames: Frames) -> torch.Tensor:
        """Features of one clip in eval mode (the encoder's own mode is restored after)."""
        data = frames.data[None].to(self.device)
        lengths = torch.tensor([len(frames)], dtype=torch.int64, device=self.device)
        was_training = self.encoder.training
        self.encoder.eval()
        try:
            return self.encoder(data, lengths)[0].float()
        finally:
            self.encoder.train(was_training)

    def target(
        self, path: str | Path, duration: float, compute: Callable[[], tuple[torch.Tensor, float]]
    ) -> tuple[torch.Tensor, float]:
        """Cached sound target: (log-mel (n_mels, T'), duration s), keyed by file, mel recipe, duration."""
        key = {"file": self.store.file_hash(path), "mel": self.preprocessing.mel}
        key["duration"] = round(duration, 6)

        def run() -> dict[str, torch.Tensor]:
            mel, seconds = compute()
            return {"target": mel, "duration": torch.tensor(seconds, dtype=torch.float64)}

        out = self.store.fetch("targets", key, run)
        return out["target"], float(out["duration"])


FEATURE_CACHE = "feature_cache"  # the folder's name, beside a data folder's manifests


def encoder_cache(
    root: Path, system: nn.Module, prep: Preprocessing, device: torch.device, part: bool = False
) -> FeatureCache:
    """A cache of ``system``'s encoder features in ``root``, keyed as training keys them: so an
    evaluation finds the features its bundle's training run stored (the frozen encoder's).

    part: cache only the frozen members' features (``ConcatEncoder.frozen_part``), for a
    run whose other members still train: the frozen CNNs then run once per clip, not every step.
    """
    # the weights hash tells trained encoders apart; a member's frame_stride changes its features alone
    strides = [(e["name"], e.get("frame_stride", 1)) for e in encoder_configs(system.config["encoder"])]
    label = "+".join(name if stride == 1 else f"{name}/{stride}" for name, stride in strides)
    encoder = system.encoder
    if part:
        label = f"{label} members {list(encoder.fixed)}"
        encoder = encoder.frozen_part()
    return FeatureCache(root, encoder, label, prep, device)


def innermost(dataset: Dataset) -> Dataset:
    """The dataset that wrappers such as :class:`CachedFeatureDataset` (``.dataset``) wrap."""
    while hasattr(dataset, "dataset"):
        dataset = dataset.dataset
    return dataset


class CachedFeatureDataset(Dataset):
    """A :class:`ClipDataset` whose examples carry cached features (T, D) instead of frames.

    The first pass decodes and encodes each clip; later epochs read the cache.
    Sound targets are cached too (``cache_targets``), so no epoch after the
    first decodes any media.

    keep_frames: the examples keep their frames and carry the features beside them
    (:class:`~avseq.data.datasets.FramesWithCache`): for a partly frozen encoder, whose cache
    holds its frozen members' features (``ConcatEncoder.frozen_part``) while the others train on
    frames. Wrap a :class:`~avseq.train.data.MemoryCache` so that frames are not decoded
    again either.
    """

    def __init__(
        self, dataset: ClipDataset, cache: FeatureCache, cache_targets: bool = True, keep_frames: bool = False
    ) -> None:
        if dataset.preprocessing != cache.preprocessing:
            raise ValueError("dataset and feature cache use different preprocessing")
        self.dataset, self.cache, self.cache_targets = dataset, cache, cache_targets
        self.keep_frames = keep_frames

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name: str) -> Any:
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)  # set_epoch, entries, preprocessing...

    def features(
        self, index: int, variant: str | None = None, load: Callable[[], Frames] | None = None
    ) -> torch.Tensor:
        """The cached features of item ``index`` as ``variant`` sees it (None: as it is stored;
        the variants of a :class:`~avseq.data.augment.Mirror` dataset); ``load``: its frames in
        that view, when the caller has them already."""
        if load is None:
            load_variant = getattr(self.dataset, "load_variant", None)
            if load_variant is not None:
                load = lambda: load_variant(index, variant)  # noqa: E731
            elif variant is None:
                load = lambda: self.dataset.load_video(index)  # noqa: E731
            else:
                raise ValueError(f"variant {variant!r} of a dataset without variants")
        return self.cache.features(self.dataset.entry(index).path, load, variant)

    def __getitem__(self, index: int):
        entry = self.dataset.entry(index)
        variant = self.dataset.variant(index) if hasattr(self.dataset, "variant") else None
        if self.keep_frames:
            frames = self.dataset.load_video(index)
            video = FramesWithCache(frames, self.features(index, variant, lambda: frames))
        else:
            video = self.features(index, variant)
        if not (self.cache_targets and isinstance(innermost(self.dataset), SoundDataset)):
            return self.dataset.make_example(index, video)
        duration = clip_duration(entry.path, entry.duration)
        target, duration = self.cache.target(entry.path, duration, lambda: self.dataset.target(index))
        rate = self.dataset.preprocessing.recipe.frame_rate
        return SoundExample.of(entry, video, target, rate, duration)

    def precompute(self, progress: bool = True) -> CacheStats:
        """Fill the cache for every item, and each of its variants where the dataset has them
        (one pass); returns the feature stats."""
        variants = getattr(self.dataset, "variants", ())
        for i in tqdm(range(len(self)), desc="features", disable=not progress):
            self[i]
            for variant in variants:
                self.features(i, variant)
        return self.cache.stats
