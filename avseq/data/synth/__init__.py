"""The synthetic audio-visual world: clips with known captions, sound and impact times.

A clip is fully determined by ``(seed, SynthConfig)``; splits draw seeds from disjoint
ranges. Public API: :class:`SynthConfig`, :func:`render_clip` (one clip in memory,
:class:`SynthClip`), :func:`generate_split` (a split on disk with its manifest),
:data:`SPLIT_SEEDS`, :func:`clip_seed`.

Modules, from the bottom up: motion.py (trajectories), world.py (the vocabulary and one
scene from a seed), render.py (frames), audio.py (sound), captions.py (the caption
grammar), config.py (``SynthConfig``), clip.py (one clip), heap.py (the filled heap that
makes encodes byte-identical), split.py (a split's files and manifest).
"""

from avseq.data.synth.clip import SynthClip, render_clip
from avseq.data.synth.config import SynthConfig
from avseq.data.synth.split import SPLIT_SEEDS, clip_seed, generate_split

__all__ = ["SPLIT_SEEDS", "SynthClip", "SynthConfig", "clip_seed", "generate_split", "render_clip"]
