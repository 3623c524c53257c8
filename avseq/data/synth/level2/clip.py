"""One level-2 clip: a scene drawn from a seed, its frames, sound, captions and event ground truth.

A clip is fully determined by ``(seed, Level2Config)``; scene, audio and captions use
independent streams of the seed, so e.g. ``captions_per_event`` leaves pictures and sound as
they were.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avseq.data.manifest import Event
from avseq.data.synth.level2.audio import render_audio
from avseq.data.synth.level2.captions import clip_captions, event_captions
from avseq.data.synth.level2.config import Level2Config
from avseq.data.synth.level2.render import Visibility, render_frames, view_position
from avseq.data.synth.level2.schedule import ACTOR_SELF, PlannedEvent
from avseq.data.synth.level2.world import Level2Scene, sample_scene
from avseq.data.synth.world import EVENT_KINDS

OCCLUDED_BELOW = 0.5  # an object counts as occluded while less than this fraction of it is seen


@dataclass(frozen=True, repr=False)
class Level2Clip:
    """One rendered level-2 clip.

    frames: (T, H, W, 3) uint8 RGB at ``config.fps``; audio: (N,) float32 mono in [-1, 1] at
    ``config.sample_rate`` with N = T / fps * sample_rate; events: one span per event, sorted by
    start (see :class:`~avseq.data.manifest.Event`); visibility: of the scene's objects, then its
    occluders, per frame.
    """

    seed: int
    scene: Level2Scene
    frames: np.ndarray
    audio: np.ndarray
    captions: list[str]
    events: list[Event]
    attributes: dict
    visibility: Visibility

    @property
    def duration(self) -> float:
        """Seconds of video (num_frames / fps), which the audio matches exactly."""
        return self.scene.num_frames / self.scene.fps

    def __repr__(self) -> str:
        return (
            f"Level2Clip(seed={self.seed}, frames={self.frames.shape}, audio={self.audio.shape}, "
            f"events={len(self.events)}, captions={[c[:40] for c in self.captions[:1]]})"
        )


def render_level2(seed: int, config: Level2Config = Level2Config()) -> Level2Clip:
    """Render the level-2 clip of ``seed``: frames, soundtrack, captions, events and attributes."""
    scene_ss, audio_ss, caption_ss = np.random.SeedSequence(seed).spawn(3)
    rng = np.random.default_rng(scene_ss)
    duration = rng.uniform(config.min_duration, config.max_duration)
    scene = sample_scene(rng, config, max(2, int(round(duration * config.fps))))
    frames, visibility = render_frames(scene)
    audio = render_audio(scene, config.sample_rate, np.random.default_rng(audio_ss))
    caption_rng = np.random.default_rng(caption_ss)
    per_event = [
        event_captions(e, scene.objects[e.obj], caption_rng, config.captions_per_event) for e in scene.events
    ]
    captions = clip_captions(list(scene.events), per_event, caption_rng, config.captions_per_clip)
    events = [_event(scene, e, caps) for e, caps in zip(scene.events, per_event, strict=True)]
    return Level2Clip(
        seed, scene, frames, audio, captions, events, _attributes(scene, visibility), visibility
    )


def _event(scene: Level2Scene, event: PlannedEvent, captions: list[str]) -> Event:
    obj, fps = scene.objects[event.obj], scene.fps
    kind = f"{event.actor}_hit" if event.action == "struck" else EVENT_KINDS[event.action]
    return Event(
        time=event.start / fps,
        object=obj.name,
        material=obj.material,
        kind=kind,
        strength=max(event.motion.strengths),
        end=event.end / fps,
        actor=obj.name if event.actor == ACTOR_SELF else event.actor,
        action=event.action,
        colour=obj.colour,
        shape=obj.shape,
        onsets=tuple(f / fps for f in event.contacts),
        captions=tuple(captions),
        track=_track(scene, event),
    )


def _track(scene: Level2Scene, event: PlannedEvent) -> tuple[tuple[float, float, float], ...]:
    """(t, x, y) of the event's object on every frame of its span, as :attr:`Event.track` has it."""
    frames = np.arange(event.start, event.end)
    obj = scene.objects[event.obj]
    where = view_position(scene, obj.track.x[frames], obj.track.y[frames], frames)
    return tuple((int(f) / scene.fps, float(x), float(y)) for f, (x, y) in zip(frames, where, strict=True))


def occlusions(scene: Level2Scene, visibility: Visibility) -> list[dict]:
    """Stretches where an object, fully on the canvas, is seen less than ``OCCLUDED_BELOW``:
    ``{"object", "start", "end"}`` (s), in order of start."""
    out = []
    fraction = visibility.fraction()
    for i, obj in enumerate(scene.objects):
        area = visibility.area[:, i]
        whole = area >= 0.8 * area.max() if area.max() > 0 else np.zeros(len(area), bool)
        hidden = np.concatenate(
            [[False], whole & (np.nan_to_num(fraction[:, i], nan=1.0) < OCCLUDED_BELOW), [False]]
        )
        edges = np.flatnonzero(np.diff(hidden.astype(np.int8)))
        for start, end in zip(edges[::2], edges[1::2], strict=True):
            out.append(
                {
                    "object": obj.name,
                    "start": round(float(start / scene.fps), 6),
                    "end": round(float(end / scene.fps), 6),
                }
            )
    return sorted(out, key=lambda o: (o["start"], o["object"]))


def _attributes(scene: Level2Scene, visibility: Visibility) -> dict:
    fps, events = scene.fps, scene.events
    overlaps = sum(
        1 for i, a in enumerate(events) for b in events[i + 1 :] if b.start < a.end and a.obj != b.obj
    )
    return {
        "level": 2,
        "objects": [o.name for o in scene.objects],
        "lanes": ["back" if lane == 0 else "front" for lane in scene.lanes],
        "num_events": len(events),
        "overlapping_pairs": overlaps,
        "occluders": [f"{o.colour} {o.material} {o.shape}" for o in scene.occluders],
        "occlusions": occlusions(scene, visibility),
        "backdrops": list(scene.backdrop.kinds),
        "backdrop_changes": [round(f / fps, 6) for f in scene.backdrop.changes],
        "lighting_changes": [round(f / fps, 6) for f in scene.lighting.changes],
        "max_zoom": round(float(scene.camera.zoom.max()), 4),
        "ambience": scene.sounds.ambience,
        "offscreen_sounds": [{"time": round(s.time, 6), "kind": s.kind} for s in scene.sounds.offscreen],
    }
