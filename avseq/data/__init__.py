"""Manifests, dataset adapters and sources, the synthetic audio-visual world, datasets and the
feature cache.

Public API (stable names):

- synthetic world (the sub-package :mod:`avseq.data.synth`): :class:`SynthConfig`,
  :func:`generate_split`, :func:`render_clip`, :data:`SPLIT_SEEDS`, :func:`clip_seed`; its
  level 2 (:class:`Level2Config`, :func:`render_level2`) and :func:`get_level` (the registry
  of levels, :mod:`avseq.data.synth.levels`);
- manifests: :class:`ManifestEntry`, :class:`Event`, :func:`read_manifest`,
  :func:`write_manifest`, :func:`read_msvd`, :func:`read_msrvtt`;
- dataset sources (the sub-package :mod:`avseq.data.sources`, behind ``avseq data``): one
  module per public dataset layout, each turning it into train/val/test manifests of probed clips;
- datasets: :class:`SoundDataset`, :class:`CaptionDataset` (examples :class:`SoundExample`,
  :class:`CaptionExample`), :func:`collate_sound`, :func:`collate_caption` (batches
  :class:`SoundBatch`, :class:`CaptionBatch`), :func:`load_frames`, :func:`load_target`;
- feature cache: :class:`FeatureCache`, :class:`CachedFeatureDataset`, :func:`weights_hash`.

The names are imported on first use (:mod:`avseq.lazy`): reading and writing manifests and
``avseq data`` never import torch; the datasets and the feature cache do.
"""

from avseq.lazy import lazy_package

_EXPORTS = {
    "read_msrvtt": "avseq.data.adapters",
    "read_msvd": "avseq.data.adapters",
    "load_frames": "avseq.data.clips",
    "load_target": "avseq.data.clips",
    "CaptionBatch": "avseq.data.collate",
    "SoundBatch": "avseq.data.collate",
    "collate_caption": "avseq.data.collate",
    "collate_sound": "avseq.data.collate",
    "CaptionDataset": "avseq.data.datasets",
    "CaptionExample": "avseq.data.datasets",
    "ClipDataset": "avseq.data.datasets",
    "SoundDataset": "avseq.data.datasets",
    "SoundExample": "avseq.data.datasets",
    "CacheStats": "avseq.data.feature_cache",
    "CachedFeatureDataset": "avseq.data.feature_cache",
    "FeatureCache": "avseq.data.feature_cache",
    "weights_hash": "avseq.data.feature_cache",
    "Event": "avseq.data.manifest",
    "ManifestEntry": "avseq.data.manifest",
    "read_manifest": "avseq.data.manifest",
    "write_manifest": "avseq.data.manifest",
    "Level2Clip": "avseq.data.synth",
    "Level2Config": "avseq.data.synth",
    "SPLIT_SEEDS": "avseq.data.synth",
    "SynthClip": "avseq.data.synth",
    "SynthConfig": "avseq.data.synth",
    "clip_seed": "avseq.data.synth",
    "generate_split": "avseq.data.synth",
    "get_level": "avseq.data.synth",
    "render_clip": "avseq.data.synth",
    "render_level2": "avseq.data.synth",
}
__all__ = lazy_package(__name__, _EXPORTS)
