"""Level 2 of the synthetic world (``avseq synth --level 2``): long clips with many overlapping events.

Clips of 20-60 s with 3-10 events; two to four objects in two depth lanes, moving and sounding
at once; occluders passing in front; a textured backdrop that scrolls and changes; camera shake,
zoom and lighting changes; ambience and off-screen sounds the picture does not show; H.264 at
user-video quality. Every event is a span with its actor, action, object, material, colour, the
onsets of its sounds and its own reference captions (:class:`~avseq.data.manifest.Event`).

It shares level 1's vocabulary, object drawing (:func:`avseq.data.synth.render.draw_object`),
impact sounds and voices (:mod:`avseq.data.synth.audio`), count words and the split writer.
Modules, from the bottom up: config.py (``Level2Config``), stage.py (geometry, depth lanes),
motion.py (one function per action), schedule.py (the event timeline), looks.py (camera,
lighting, backdrop, ambience plan), world.py (one scene from a seed), textures.py, render.py
(frames and visibility), audio.py, captions.py, clip.py (``render_level2``).
"""

from avseq.data.synth.level2.clip import Level2Clip, render_level2
from avseq.data.synth.level2.config import Level2Config

__all__ = ["Level2Clip", "Level2Config", "render_level2"]
