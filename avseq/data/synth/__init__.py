"""The synthetic audio-visual world: clips with known captions, sound and impact times.

Two levels (:mod:`avseq.data.synth.levels`, ``avseq synth --level N``): level 1, short clips of
one object doing one thing (:class:`SynthConfig`, :func:`render_clip`); level 2, 20-60 s clips
of several objects whose events overlap, with occlusion, a moving camera, changing light and
backdrop, ambience, and ground truth and captions per event (:class:`Level2Config`,
:func:`render_level2`, the sub-package :mod:`avseq.data.synth.level2`).

A clip is fully determined by ``(seed, config)``; splits draw seeds from disjoint ranges.
Public API: :class:`SynthConfig`, :class:`Level2Config`, :func:`render_clip` (one level-1
clip in memory, :class:`SynthClip`), :func:`render_level2` (:class:`Level2Clip`),
:func:`generate_split` (a split of any level on disk with its manifest), :data:`SPLIT_SEEDS`,
:func:`clip_seed`, :func:`get_level`, :func:`config_from_dict` (a config of the level its
``level`` key names).

Modules, from the bottom up: motion.py (trajectories), world.py (the vocabulary and one
scene from a seed), render.py (frames), audio.py (sound), captions.py (the caption
grammar), config.py (``SynthConfig`` and what every level's config shares), clip.py (one
clip), level2/ (level 2, which reuses the drawing of objects, the impact sounds and the count
words), levels.py (the registry of levels), heap.py (the filled heap that makes encodes
byte-identical), split.py (a split's files and manifest).
"""

from avseq.data.synth.clip import SynthClip, render_clip
from avseq.data.synth.config import SynthConfig
from avseq.data.synth.level2 import Level2Clip, Level2Config, render_level2
from avseq.data.synth.levels import LEVELS, config_from_dict, get_level
from avseq.data.synth.split import SPLIT_SEEDS, clip_seed, generate_split

__all__ = [
    "LEVELS",
    "SPLIT_SEEDS",
    "Level2Clip",
    "Level2Config",
    "SynthClip",
    "SynthConfig",
    "clip_seed",
    "config_from_dict",
    "generate_split",
    "get_level",
    "render_clip",
    "render_level2",
]
