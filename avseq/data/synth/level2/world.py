"""One level-2 scene from a seed: the objects, their events, the occluders and the looks.

Two to four objects stand on the floor in two depth lanes (two at most per lane, each then
keeping to its half). An object either rests on the floor from the start or enters by falling
in; then it may slide into a wall or be struck. The timeline is :mod:`.schedule`'s. Silent
occluders float across in front of everything, each timed to pass in front of an object while
it sounds. Everything is drawn from one ``numpy`` generator, so a seed fixes the whole scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avseq.data.synth.level2 import looks
from avseq.data.synth.level2.config import Level2Config
from avseq.data.synth.level2.schedule import ObjectPlan, PlannedEvent, PlanOptions, plan_events
from avseq.data.synth.level2.stage import LANES, Lane, Stage
from avseq.data.synth.motion import Track
from avseq.data.synth.world import SceneObject


@dataclass(frozen=True)
class Level2Scene:
    """Everything needed to draw and sound one level-2 clip (times as frame indices at ``fps``).

    objects: the sounding objects, ``lanes`` their depth lane each (0 back, 1 front); events:
    sorted by start; occluders: silent objects drawn in front of everything.
    """

    stage: Stage
    num_frames: int
    fps: float
    objects: tuple[SceneObject, ...]
    lanes: tuple[int, ...]
    events: tuple[PlannedEvent, ...]
    occluders: tuple[SceneObject, ...]
    camera: looks.Camera
    lighting: looks.Lighting
    backdrop: looks.Backdrop
    sounds: looks.Soundscape


def _pick(rng: np.random.Generator, choices: tuple[str, ...]) -> str:
    return str(choices[int(rng.integers(len(choices)))])


def _object_plans(
    rng: np.random.Generator, config: Level2Config, stage: Stage
) -> tuple[list[ObjectPlan], list[tuple[str, str, str]]]:
    """Lanes, resting ranges, start positions and looks (colour, shape, material) of the objects."""
    m = int(rng.integers(config.min_objects, config.max_objects + 1))
    pairs = [(c, s) for c in config.colours for s in config.shapes]
    looks_ = [
        (*pairs[int(i)], _pick(rng, config.materials)) for i in rng.choice(len(pairs), m, replace=False)
    ]
    lanes = [int(x) for x in rng.permutation(LANES)]
    while len(lanes) < m:
        lanes.append(_pick_lane(rng, lanes))
    plans = []
    for i, lane_id in enumerate(lanes):
        lane = stage.lane(lane_id)
        sharing = [j for j, other in enumerate(lanes) if other == lane_id]
        side = "both" if len(sharing) == 1 else ("left", "right")[sharing.index(i)]
        x_range = _share(lane, side)
        x0 = rng.uniform(*x_range)
        enters = "bounce" in config.actions and rng.random() < config.drop_prob
        plans.append(ObjectPlan(lane_id, x_range, side, float(x0), bool(enters)))
    return plans, looks_


def _pick_lane(rng: np.random.Generator, lanes: list[int]) -> int:
    open_ = [lane for lane in LANES if lanes.count(lane) < 2]
    return open_[int(rng.integers(len(open_)))]


def _share(lane: Lane, side: str) -> tuple[float, float]:
    """Where an object's centre may rest: the whole lane, or its left or right half."""
    lo, hi = lane.x_range
    mid = (lo + hi) / 2
    if side == "left":
        return lo, mid - lane.radius - 1
    if side == "right":
        return mid + lane.radius + 1, hi
    return lo, hi


def _track(plan: ObjectPlan, lane: Lane, n: int) -> Track:
    """The object's pose over the clip: at rest between its events (above the stage before it falls in)."""
    rest_y = lane.floor_y - lane.radius
    x, y, sx, sy = np.empty(n), np.empty(n), np.ones(n), np.ones(n)
    cur_x, cur_y, pos = plan.x0, (-3 * lane.radius if plan.enters else rest_y), 0
    for e in sorted(plan.events, key=lambda e: e.start):
        x[pos : e.start], y[pos : e.start] = cur_x, cur_y
        m = e.motion
        x[e.start : e.end], y[e.start : e.end], sx[e.start : e.end], sy[e.start : e.end] = (
            m.x,
            m.y,
            m.sx,
            m.sy,
        )
        cur_x, cur_y, pos = m.end_x, rest_y, e.end
    x[pos:], y[pos:] = cur_x, cur_y
    return Track(x, y, sx, sy)


def _occluders(
    rng: np.random.Generator,
    config: Level2Config,
    stage: Stage,
    n: int,
    objects: tuple[SceneObject, ...],
    events: list[PlannedEvent],
) -> tuple[SceneObject, ...]:
    """1..max_occluders silent objects crossing the stage, each before an object at one of its contacts."""
    if config.max_occluders == 0 or not events:
        return ()
    materials = (
        tuple(m for m in config.materials if m != "glass") or config.materials
    )  # glass would not hide much
    front = stage.lane(1).radius
    out = []
    for _ in range(int(rng.integers(1, config.max_occluders + 1))):
        event = events[int(rng.integers(len(events)))]
        f = event.contacts[int(rng.integers(len(event.contacts)))]
        target = objects[event.obj].track
        radius = front * rng.uniform(1.0, 1.4)
        speed = stage.world_width / (rng.uniform(2.5, 5.0) * config.fps) * (1 if rng.random() < 0.5 else -1)
        t = np.arange(n, dtype=np.float64) - f
        x = target.x[f] + speed * t
        y = target.y[f] + rng.uniform(0.0, 0.5) * radius * np.sin(rng.uniform(0.05, 0.15) * t)
        shape, colour, material = _pick(rng, config.shapes), _pick(rng, config.colours), _pick(rng, materials)
        out.append(SceneObject(shape, colour, material, radius, Track.still(x, y)))
    return tuple(out)


def sample_scene(rng: np.random.Generator, config: Level2Config, num_frames: int) -> Level2Scene:
    """One scene of ``num_frames`` frames: objects, events, occluders, camera, light, backdrop, sounds."""
    stage = Stage(config.width, config.height)
    plans, looks_ = _object_plans(rng, config, stage)
    options = PlanOptions(
        num_frames, config.fps, config.actions, config.strikers, config.min_events, config.max_events,
        config.max_count, config.overlap_prob,
    )  # fmt: skip
    events = plan_events(rng, options, stage, plans)
    objects = tuple(
        SceneObject(
            shape, colour, material, stage.lane(p.lane).radius, _track(p, stage.lane(p.lane), num_frames)
        )
        for p, (colour, shape, material) in zip(plans, looks_, strict=True)
    )
    occluders = _occluders(rng, config, stage, num_frames, objects, events)
    camera = looks.sample_camera(rng, stage, num_frames, config.fps, config.shake, config.zoom)
    lighting = looks.sample_lighting(rng, num_frames, config.fps, config.lighting)
    backdrop = looks.sample_backdrop(rng, num_frames, config.fps, config.background_changes)
    sounds = looks.sample_soundscape(
        rng, num_frames / config.fps, config.ambience_level, config.offscreen_rate
    )
    return Level2Scene(
        stage, num_frames, config.fps, objects, tuple(p.lane for p in plans), tuple(events), occluders,
        camera, lighting, backdrop, sounds,
    )  # fmt: skip
