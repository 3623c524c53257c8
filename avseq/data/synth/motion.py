"""Trajectories of the synthetic world, one function per kind of motion.

All positions are in pixels (x right, y down) and sampled at video frame
indices ``0 .. T-1``. Contact happens exactly on a frame: the frame at which
an object is drawn touching the floor, a wall or the stick is the impact time.
Strengths are impact speeds scaled into ``(0, 1]`` (1 = the fastest hit the
motion can produce), so louder sounds go with faster hits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_STRENGTH = 0.35


@dataclass(frozen=True)
class Layout:
    """Fixed geometry of the stage: floor line and the inner faces of both walls (pixels)."""

    width: int
    height: int

    @property
    def floor_y(self) -> float:
        """Row (pixels) of the floor line that objects rest on."""
        return 0.84 * self.height

    @property
    def wall_width(self) -> float:
        """Thickness (pixels) of each side wall."""
        return max(2.0, 0.07 * self.width)

    @property
    def left_wall(self) -> float:
        """x (pixels) of the left wall's inner face."""
        return self.wall_width

    @property
    def right_wall(self) -> float:
        """x (pixels) of the right wall's inner face."""
        return self.width - self.wall_width

    def radius(self) -> float:
        """Half-size (pixels) of the sounding object."""
        return max(2.5, 0.1 * min(self.width, self.height))


@dataclass(frozen=True)
class Track:
    """Per-frame pose of one object. x, y: (T,) centre in pixels; sx, sy: (T,) squash scales."""

    x: np.ndarray
    y: np.ndarray
    sx: np.ndarray
    sy: np.ndarray

    @classmethod
    def still(cls, x: np.ndarray, y: np.ndarray) -> Track:
        """A track without squash."""
        return cls(x, y, np.ones_like(x), np.ones_like(y))


@dataclass(frozen=True)
class Motion:
    """A track plus the frames at which it makes contact and how hard (strength in (0, 1])."""

    track: Track
    contact_frames: list[int]
    strengths: list[float]


def strength_of(speed: float, max_speed: float) -> float:
    """Contact ``speed`` as a strength: ``speed / max_speed`` kept within [MIN_STRENGTH, 1]."""
    return float(np.clip(speed / max_speed, MIN_STRENGTH, 1.0))


def bounce(rng: np.random.Generator, layout: Layout, n_frames: int, count: int, r: float) -> Motion:
    """An object dropped from rest that hits the floor up to ``count`` times, each hop shorter.

    The first contact comes after a free fall of F frames; the hop after each
    contact lasts ``e`` times the previous one (restitution ``e``), so impact
    intervals shrink. Fewer than ``count`` contacts are produced when the clip
    is too short; ``len(contact_frames)`` is the true count.
    """
    rest_y = layout.floor_y - r
    fall = int(rng.integers(5, 10))
    drop_height = rng.uniform(0.45, 0.8) * (rest_y - 1.5 * r)
    g = 2 * drop_height / fall**2
    e = rng.uniform(0.62, 0.8)
    start = int(rng.integers(0, max(1, n_frames // 6)))
    contacts, speeds, hops = [start + fall], [g * fall], []
    hop = 2 * e * fall
    while len(contacts) < count and round(hop) >= 3 and contacts[-1] + round(hop) <= n_frames - 2:
        hops.append(round(hop))
        contacts.append(contacts[-1] + hops[-1])
        speeds.append(g * hops[-1] / 2)
        hop *= e
    t = np.arange(n_frames, dtype=np.float64)
    y = np.full(n_frames, rest_y)
    before = t <= contacts[0]
    y[before] = rest_y - drop_height + 0.5 * g * np.clip(t[before] - start, 0, None) ** 2
    for c0, length in zip(contacts, hops, strict=False):
        u = t[c0 : c0 + length + 1] - c0
        y[c0 : c0 + length + 1] = rest_y - 0.5 * g * u * (length - u)
    x = _drift(rng, layout, n_frames, r)
    sy = np.ones(n_frames)
    sy[contacts] = 0.78
    sx = np.where(sy < 1, 1.18, 1.0)
    y = np.where(sy < 1, layout.floor_y - r * sy, y)
    max_speed = g * fall
    return Motion(Track(x, y, sx, sy), contacts, [strength_of(s, max_speed) for s in speeds])


def _drift(rng: np.random.Generator, layout: Layout, n_frames: int, r: float) -> np.ndarray:
    lo, hi = layout.left_wall + 2 * r, layout.right_wall - 2 * r
    x0 = rng.uniform(lo, hi)
    x1 = np.clip(x0 + rng.uniform(-0.15, 0.15) * layout.width, lo, hi)
    return np.linspace(x0, x1, n_frames)


def slide(rng: np.random.Generator, layout: Layout, n_frames: int, direction: str, r: float) -> Motion:
    """An object on the floor slides towards the left or right wall, hits it once and rebounds.

    Contact is the frame at which its edge touches the wall's inner face.
    """
    sign = -1.0 if direction == "left" else 1.0
    contact = int(rng.integers(int(0.4 * n_frames), int(0.65 * n_frames) + 1))
    x_contact = layout.left_wall + r if sign < 0 else layout.right_wall - r
    room = layout.right_wall - layout.left_wall - 2.5 * r
    max_speed = room / max(contact, 1)
    speed = rng.uniform(0.4, 1.0) * max_speed
    t = np.arange(n_frames, dtype=np.float64)
    x = x_contact - sign * speed * (contact - t)
    after = t > contact
    back = 0.3 * speed
    u = t[after] - contact
    stop = back / 0.05 / speed if speed > 0 else 1.0
    u = np.minimum(u, stop)
    x[after] = x_contact - sign * (back * u - 0.5 * 0.05 * speed * u**2)
    y = np.full(n_frames, layout.floor_y - r)
    sx = np.ones(n_frames)
    sx[contact] = 0.8
    x[contact] = x_contact - sign * r * (sx[contact] - 1)
    sy = np.where(sx < 1, 1.15, 1.0)
    y = layout.floor_y - r * sy
    return Motion(Track(x, y, sx, sy), [contact], [strength_of(speed, max_speed)])


@dataclass(frozen=True)
class StickMotion:
    """The striking stick: x (pixels) and per-frame tip height tip_y (T,) in pixels."""

    x: float
    tip_y: np.ndarray


def struck(
    rng: np.random.Generator, layout: Layout, n_frames: int, count: int, r: float
) -> tuple[Motion, StickMotion]:
    """An object resting on the floor struck from above by a stick, up to ``count`` times.

    The stick rises, then falls with constant acceleration onto the object's top;
    contact is the frame where its tip touches. Higher lifts give faster, louder hits.
    """
    x = _drift(rng, layout, n_frames, r)[:1].repeat(n_frames)
    rest_y = layout.floor_y - r
    top = rest_y - r
    max_lift = 0.55 * top
    fall, hover = 4, top - 0.6 * max_lift
    contacts = [int(rng.integers(5, 9))]
    while len(contacts) < count and contacts[-1] + 13 <= n_frames - 2:
        contacts.append(contacts[-1] + int(rng.integers(9, 14)))
    lifts = rng.uniform(0.3, 1.0, len(contacts)) * max_lift
    keys = [(0, hover)]
    for c, lift in zip(contacts, lifts, strict=True):
        keys += [(c - fall, top - lift), (c, top), (c + 3, hover)]
    tip = np.interp(np.arange(n_frames), *zip(*keys, strict=True))
    for c, lift in zip(contacts, lifts, strict=True):
        u = np.arange(fall + 1)
        tip[c - fall : c + 1] = top - lift * (1 - (u / fall) ** 2)
    tip[contacts] = top
    sy = np.ones(n_frames)
    sy[contacts] = 0.85
    sx = np.where(sy < 1, 1.1, 1.0)
    y = layout.floor_y - r * sy
    tip = np.where(sy < 1, layout.floor_y - 2 * r * sy, tip)
    speeds = lifts / fall
    strengths = [strength_of(s, max_lift / fall) for s in speeds]
    return Motion(Track(x, y, sx, sy), contacts, strengths), StickMotion(float(x[0]), tip)


def float_path(rng: np.random.Generator, layout: Layout, n_frames: int, r: float) -> Track:
    """A distractor drifting on a smooth loop in the upper part of the stage, touching nothing."""
    t = np.arange(n_frames, dtype=np.float64)
    lo, hi = layout.left_wall + 2 * r, layout.right_wall - 2 * r
    cx, ax = (lo + hi) / 2, rng.uniform(0.3, 0.9) * (hi - lo) / 2
    cy = rng.uniform(0.22, 0.32) * layout.height
    ay = rng.uniform(0.02, 0.08) * layout.height
    w1, w2 = rng.uniform(0.08, 0.2), rng.uniform(0.1, 0.3)
    p1, p2 = rng.uniform(0, 2 * np.pi, 2)
    x = cx + ax * np.sin(w1 * t + p1)
    y = np.maximum(cy + ay * np.sin(w2 * t + p2), r + 1)
    return Track.still(x, y)
