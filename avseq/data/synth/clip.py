"""One clip of the synthetic world: a scene drawn from a seed, its frames, sound and captions.

A clip is fully determined by ``(seed, SynthConfig)``; scene, audio and captions use
independent streams of the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avseq.data.manifest import Event
from avseq.data.synth.audio import render_audio
from avseq.data.synth.captions import COUNT_WORDS, make_captions
from avseq.data.synth.config import SynthConfig
from avseq.data.synth.render import render_frames
from avseq.data.synth.world import Scene, SceneOptions, sample_scene


@dataclass(frozen=True, repr=False)
class SynthClip:
    """One rendered clip.

    frames: (T, H, W, 3) uint8 RGB at ``config.fps``; audio: (N,) float32 mono in
    [-1, 1] at ``config.sample_rate`` with N = T / fps * sample_rate; events sorted by time.
    """

    seed: int
    scene: Scene
    frames: np.ndarray
    audio: np.ndarray
    captions: list[str]
    events: list[Event]
    attributes: dict

    @property
    def duration(self) -> float:
        """Seconds of video (num_frames / fps), which the audio matches exactly."""
        return self.scene.num_frames / self.scene.fps

    def __repr__(self) -> str:
        return (
            f"SynthClip(seed={self.seed}, frames={self.frames.shape}, audio={self.audio.shape}, "
            f"events={len(self.events)}, captions={self.captions[:1]})"
        )


def _scene_options(config: SynthConfig, num_frames: int) -> SceneOptions:
    return SceneOptions(
        width=config.width,
        height=config.height,
        fps=config.fps,
        num_frames=num_frames,
        shapes=config.shapes,
        colours=config.colours,
        materials=config.materials,
        actions=config.actions,
        max_count=config.max_count,
        distractor_prob=config.distractor_prob,
        noise_prob=config.noise_prob,
        noise_level=config.noise_level,
    )


def render_clip(seed: int, config: SynthConfig = SynthConfig()) -> SynthClip:
    """Render the clip of ``seed``: frames, soundtrack, captions, events and attributes.

    Scene, audio and captions use independent streams of the seed, so changing
    e.g. ``captions_per_clip`` leaves pictures and sound unchanged.
    """
    scene_ss, audio_ss, caption_ss = np.random.SeedSequence(seed).spawn(3)
    rng = np.random.default_rng(scene_ss)
    duration = rng.uniform(config.min_duration, config.max_duration)
    num_frames = max(2, int(round(duration * config.fps)))
    scene = sample_scene(rng, _scene_options(config, num_frames))
    frames = render_frames(scene)
    audio = render_audio(scene, config.sample_rate, np.random.default_rng(audio_ss))
    captions = make_captions(scene, np.random.default_rng(caption_ss), config.captions_per_clip)
    main = scene.main
    events = [Event(i.frame / scene.fps, main.name, main.material, i.kind, i.strength) for i in scene.impacts]
    return SynthClip(seed, scene, frames, audio, captions, events, _attributes(scene))


def _attributes(scene: Scene) -> dict:
    d = scene.distractor
    return {
        "colour": scene.main.colour,
        "shape": scene.main.shape,
        "material": scene.main.material,
        "action": scene.action,
        "count": scene.count,
        "count_word": COUNT_WORDS[scene.count],
        "direction": scene.direction,
        "distractor": f"{d.colour} {d.material} {d.shape}" if d is not None else "",
    }
