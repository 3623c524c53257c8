"""Manifests, dataset adapters, the synthetic audio-visual world, datasets and the feature cache.

Public API (stable names):

- synthetic world (the sub-package :mod:`avseq.data.synth`): :class:`SynthConfig`,
  :func:`generate_split`, :func:`render_clip`, :data:`SPLIT_SEEDS`, :func:`clip_seed`;
- manifests: :class:`ManifestEntry`, :class:`Event`, :func:`read_manifest`,
  :func:`write_manifest`, :func:`read_msvd`, :func:`read_msrvtt`;
- datasets: :class:`SoundDataset`, :class:`CaptionDataset` (examples :class:`SoundExample`,
  :class:`CaptionExample`), :func:`collate_sound`, :func:`collate_caption` (batches
  :class:`SoundBatch`, :class:`CaptionBatch`), :func:`load_frames`, :func:`load_target`;
- feature cache: :class:`FeatureCache`, :class:`CachedFeatureDataset`, :func:`weights_hash`.
"""

from avseq.data.adapters import read_msrvtt, read_msvd
from avseq.data.clips import load_frames, load_target
from avseq.data.collate import CaptionBatch, SoundBatch, collate_caption, collate_sound
from avseq.data.datasets import CaptionDataset, CaptionExample, ClipDataset, SoundDataset, SoundExample
from avseq.data.feature_cache import CachedFeatureDataset, CacheStats, FeatureCache, weights_hash
from avseq.data.manifest import Event, ManifestEntry, read_manifest, write_manifest
from avseq.data.synth import SPLIT_SEEDS, SynthClip, SynthConfig, clip_seed, generate_split, render_clip

__all__ = [
    "SPLIT_SEEDS",
    "CacheStats",
    "CachedFeatureDataset",
    "CaptionBatch",
    "CaptionDataset",
    "CaptionExample",
    "ClipDataset",
    "Event",
    "FeatureCache",
    "ManifestEntry",
    "SoundBatch",
    "SoundDataset",
    "SoundExample",
    "SynthClip",
    "SynthConfig",
    "clip_seed",
    "collate_caption",
    "collate_sound",
    "generate_split",
    "load_frames",
    "load_target",
    "read_manifest",
    "read_msrvtt",
    "read_msvd",
    "render_clip",
    "weights_hash",
    "write_manifest",
]
