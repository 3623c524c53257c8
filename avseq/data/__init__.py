"""Manifests, dataset adapters, the synthetic audio-visual world and the feature cache."""

from avseq.data.manifest import Event, ManifestEntry, read_manifest, write_manifest
from avseq.data.synth import SPLIT_SEEDS, SynthClip, SynthConfig, clip_seed, generate_split, render_clip

__all__ = [
    "SPLIT_SEEDS",
    "Event",
    "ManifestEntry",
    "SynthClip",
    "SynthConfig",
    "clip_seed",
    "generate_split",
    "read_manifest",
    "render_clip",
    "write_manifest",
]
