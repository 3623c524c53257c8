"""Inputs of an evaluation: the clips of a split, the training clips for baselines, features.

``--data`` is a manifest file or a folder holding ``<split>.jsonl`` manifests (as
``avseq synth`` writes them). The training clips for the baselines come from
``--train-data`` or, by default, from ``train.jsonl`` beside the evaluated manifest
(or the ``train`` entries of a manifest that mixes splits). The nearest-neighbour
baselines retrieve a training clip by mean-pooled encoder features: the evaluated
bundle's, or another bundle's (``--baseline-encoder``), so that models compared with
each other face one fixed baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

import torch
from torch import nn

from avseq.bundles import Bundle, Preprocessing
from avseq.data import ManifestEntry, read_manifest
from avseq.data.clips import load_frames
from avseq.data.feature_cache import FeatureCache
from avseq.errors import ConfigError


def split_manifest(data: str | Path, split: str) -> Path:
    """The manifest of ``split``: ``data`` itself when it is a file, else ``data/<split>.jsonl``."""
    data = Path(data)
    if data.is_dir():
        found = [data / f"{split}{s}" for s in (".jsonl", ".csv") if (data / f"{split}{s}").is_file()]
        if not found:
            have = ", ".join(sorted(p.name for p in data.glob("*.jsonl"))) or "none"
            raise ConfigError(f"{data}: no {split}.jsonl manifest; manifests there: {have}")
        return found[0]
    if not data.is_file():
        raise ConfigError(f"{data}: no such manifest or folder")
    return data


def split_entries(manifest: Path, split: str, limit: int | None = None) -> list[ManifestEntry]:
    """Entries of ``split`` in ``manifest`` (all of them when it carries no split names)."""
    entries = read_manifest(manifest)
    named = [e for e in entries if e.split == split]
    entries = named if named or not any(e.split for e in entries) else []
    if not entries:
        splits = sorted({e.split for e in read_manifest(manifest)})
        raise ConfigError(f"{manifest}: no clips of split {split!r}; splits there: {', '.join(splits)}")
    return entries[:limit] if limit else entries


def training_manifest(data: str | Path, split_path: Path, train_data: str | Path | None) -> Path:
    """The manifest of the clips the baselines may use: ``train_data``'s, or the ``train`` split
    next to the evaluated one (or in the same manifest)."""
    if train_data is not None:
        return split_manifest(train_data, "train")
    sibling = split_path.parent / "train.jsonl"
    if sibling.is_file() and sibling != split_path:
        return sibling
    if any(e.split == "train" for e in read_manifest(split_path)):
        return split_path
    raise ConfigError(
        f"{data}: no training clips found for the baselines; pass --train-data MANIFEST (a train.jsonl)"
    )


@torch.no_grad()
def clip_features(
    system: nn.Module, entry: ManifestEntry, prep: Preprocessing, device: torch.device
) -> torch.Tensor:
    """The system encoder's per-frame features (T, D) of one clip, decoded per ``prep``."""
    frames = load_frames(entry.path, prep)
    data = frames.data[None].to(device)
    lengths = torch.tensor([len(frames)], device=device)
    return system.features(data, lengths)[0]


def pooled(features: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean over time of each clip's (T, D) features, L2-normalized -> (N, D)."""
    stacked = torch.stack([f.float().mean(0) for f in features])
    return torch.nn.functional.normalize(stacked, dim=1)


def retrieval_keys(
    bundle: Bundle,
    entries: Sequence[ManifestEntry],
    device: torch.device,
    progress=None,
    desc: str = "",
    cache: FeatureCache | None = None,
) -> torch.Tensor:
    """Pooled features (N, D) of ``entries`` by ``bundle``'s encoder and preprocessing: what the
    nearest-neighbour baselines compare. cache: that encoder's feature cache, keyed as training
    keys it (``avseq.data.feature_cache.encoder_cache``), read first and filled with what it lacks."""
    items = progress(entries, desc) if progress else entries
    if cache is None:
        return pooled([clip_features(bundle.system, e, bundle.preprocessing, device) for e in items])
    prep = bundle.preprocessing
    return pooled([cache.features(e.path, partial(load_frames, e.path, prep)).to(device) for e in items])


def nearest(queries: torch.Tensor, keys: torch.Tensor) -> list[int]:
    """Index of the most cosine-similar key for each query; (Q, D), (K, D) normalized -> Q ints."""
    return (queries @ keys.T).argmax(1).tolist()
