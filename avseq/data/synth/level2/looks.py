"""What a level-2 clip looks and sounds like besides its events: camera, lighting, backdrop, ambience.

All of it is drawn from the scene's generator and none of it follows the events: the camera
shakes and zooms, the light changes, the backdrop scrolls and cross-fades to another texture,
and the soundtrack carries an ambience bed plus off-screen sounds that nothing in the picture
announces.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avseq.data.synth.level2.stage import Stage

TEXTURES = ("bricks", "stripes", "checks", "clouds")
AMBIENCES = ("room", "wind", "rain", "street")
OFFSCREEN_KINDS = ("chirp", "knock", "beep")


@dataclass(frozen=True)
class Camera:
    """Per-frame view, each (T,): centre x, y in world pixels and zoom; the frame shows
    ``width / zoom x height / zoom`` world pixels around the centre."""

    x: np.ndarray
    y: np.ndarray
    zoom: np.ndarray


@dataclass(frozen=True)
class Lighting:
    """Per-frame gain (T, 3) on R, G, B, and the frames where the light changes suddenly."""

    gain: np.ndarray
    changes: tuple[int, ...]


@dataclass(frozen=True)
class Backdrop:
    """The textures behind the stage in order (kind and seed each), the frames where a cross-fade
    of ``fade`` frames into the next one starts, and each texture's scroll (pixels per frame)."""

    kinds: tuple[str, ...]
    seeds: tuple[int, ...]
    changes: tuple[int, ...]
    fade: int
    scroll: tuple[float, ...]


@dataclass(frozen=True)
class OffscreenSound:
    """A sound from outside the picture: time (s), kind (``OFFSCREEN_KINDS``), strength in (0, 1]."""

    time: float
    kind: str
    strength: float


@dataclass(frozen=True)
class Soundscape:
    """The ambience bed (kind in ``AMBIENCES``, std ``level``) and the off-screen sounds."""

    ambience: str
    level: float
    offscreen: tuple[OffscreenSound, ...]


def _steps(
    rng: np.random.Generator, n: int, changes: int, values: tuple[float, float], ramp: int
) -> tuple[np.ndarray, list[int]]:
    """(n,) piecewise-constant curve with ``changes`` cosine ramps of ``ramp`` frames; the ramps' starts."""
    at = sorted(int(f) for f in rng.integers(0, max(1, n - ramp), changes))
    curve = np.full(n, rng.uniform(*values))
    for f in at:
        new = rng.uniform(*values)
        w = 0.5 - 0.5 * np.cos(np.pi * np.clip((np.arange(n - f) + 1) / (ramp + 1), 0, 1))
        curve[f:] = curve[f:] * (1 - w) + new * w
    return curve, at


def _wander(rng: np.random.Generator, n: int, every: int, shape: tuple[int, ...] = ()) -> np.ndarray:
    """(n, *shape) smooth random curve in [-1, 1]: a random value every ``every`` frames, cosine-joined."""
    keys = rng.uniform(-1, 1, (n // every + 2, *shape))
    pos = np.arange(n) / every
    i = pos.astype(int)
    w = (0.5 - 0.5 * np.cos(np.pi * (pos - i))).reshape(-1, *([1] * len(shape)))
    return keys[i] * (1 - w) + keys[i + 1] * w


def sample_camera(
    rng: np.random.Generator, stage: Stage, n: int, fps: float, shake: float, max_zoom: float
) -> Camera:
    """Zoom that holds and moves (0-3 moves of 1-2 s), a pan that follows it, and hand-held shake
    (smoothed noise of about ``shake`` pixels, stronger in bursts)."""
    ramp = max(1, round(rng.uniform(1.0, 2.0) * fps))
    zoom, _ = _steps(rng, n, int(rng.integers(0, 4)) if max_zoom > 1 else 0, (1.0, max_zoom), ramp)
    u, _ = _steps(rng, n, 3, (-1.0, 1.0), ramp)
    v, _ = _steps(rng, n, 3, (-1.0, 1.0), ramp)
    jitter = rng.standard_normal((n + 2, 2))
    jitter = (jitter[:-2] + jitter[1:-1] + jitter[2:]) / np.sqrt(3)
    bursts = 0.6 + 1.4 * (_wander(rng, n, max(1, round(2 * fps))) > 0.5)
    jitter *= (shake * bursts)[:, None]
    half_w, half_h = stage.width / (2 * zoom), stage.height / (2 * zoom)
    room_x, room_y = stage.world_width / 2 - half_w, stage.world_height / 2 - half_h
    x = np.clip(stage.world_width / 2 + 0.7 * u * room_x + jitter[:, 0], half_w, stage.world_width - half_w)
    y = np.clip(stage.world_height / 2 + 0.7 * v * room_y + jitter[:, 1], half_h, stage.world_height - half_h)
    return Camera(x, y, zoom)


def sample_lighting(rng: np.random.Generator, n: int, fps: float, depth: float) -> Lighting:
    """Slow drift of brightness and colour, and 0-2 sudden changes (lights dimmed or raised)."""
    if depth == 0:
        return Lighting(np.ones((n, 3)), ())
    level, changes = _steps(rng, n, int(rng.integers(0, 3)), (1 - depth, 1 + depth / 2), 2)
    every = max(1, round(3 * fps))
    drift = 1 + 0.3 * depth * _wander(rng, n, every)
    cast = 1 + 0.15 * depth * _wander(rng, n, every, (3,))
    return Lighting(level[:, None] * drift[:, None] * cast, tuple(changes))


def sample_backdrop(rng: np.random.Generator, n: int, fps: float, max_changes: int) -> Backdrop:
    """A first texture and up to ``max_changes`` cross-fades (1 s) into a different one."""
    fade = max(1, round(fps))
    changes = sorted(int(f) for f in rng.integers(0, max(1, n - fade), int(rng.integers(0, max_changes + 1))))
    kinds = [str(rng.choice(TEXTURES))]
    for _ in changes:
        kinds.append(str(rng.choice([k for k in TEXTURES if k != kinds[-1]])))
    seeds = tuple(int(s) for s in rng.integers(0, 2**31, len(kinds)))
    scroll = tuple(float(s) for s in rng.uniform(-0.5, 0.5, len(kinds)))
    return Backdrop(tuple(kinds), seeds, tuple(changes), fade, scroll)


def sample_soundscape(rng: np.random.Generator, duration: float, level: float, rate: float) -> Soundscape:
    """An ambience of random kind, its level around ``level``; Poisson(rate x duration) off-screen sounds."""
    ambience = str(rng.choice(AMBIENCES))
    amb_level = level * rng.uniform(0.6, 1.4)
    count = int(rng.poisson(rate * duration))
    times = np.sort(rng.uniform(0, max(0.0, duration - 1.0), count))
    offscreen = tuple(
        OffscreenSound(float(t), str(rng.choice(OFFSCREEN_KINDS)), float(rng.uniform(0.3, 1.0)))
        for t in times
    )
    return Soundscape(ambience, float(amb_level), offscreen)
