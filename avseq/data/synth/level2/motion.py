"""Motions of level-2 events, one function per action, in frames counted from the event's start.

Positions are world pixels (x right, y down) on the stage of :mod:`~avseq.data.synth.level2.stage`.
As in level 1 (:mod:`avseq.data.synth.motion`), a contact happens exactly on a frame, the
object is drawn squashed on it, and strengths are contact speeds scaled into ``(0, 1]``.
Every motion starts and ends with the object at rest on its lane's floor (a falling object
starts above the stage), so an object's events chain into one track.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avseq.data.synth.level2.stage import Lane
from avseq.data.synth.motion import strength_of

STRIKE_FALL = 4  # frames a striker takes to come down onto the object
STRIKER_EXIT = 5  # frames it takes to leave the stage upwards
MAX_STOP = 30  # most frames a sliding object takes to come to rest after its rebound


@dataclass(frozen=True)
class EventMotion:
    """One event's motion over its L frames: the object's pose x, y, sx, sy (L,) in world pixels,
    the frames of its contacts (from the event's start) and their strengths, and the striker's
    tip height (L,) for a struck object (None otherwise)."""

    x: np.ndarray
    y: np.ndarray
    sx: np.ndarray
    sy: np.ndarray
    contacts: tuple[int, ...]
    strengths: tuple[float, ...]
    tip_y: np.ndarray | None = None

    @property
    def length(self) -> int:
        """Frames the event lasts."""
        return len(self.x)

    @property
    def end_x(self) -> float:
        """Where the object rests when the event is over (x, world pixels)."""
        return float(self.x[-1])


def fall_and_bounce(rng: np.random.Generator, lane: Lane, x0: float, count: int) -> EventMotion:
    """The object falls in from above the stage and hits the floor up to ``count`` times.

    As level 1's bounce: each hop lasts ``e`` times the one before (restitution ``e``), and the
    hops stop when one would be shorter than 3 frames, so ``len(contacts)`` is the true count.
    """
    r = lane.radius
    rest_y, top_y = lane.floor_y - r, -r - 1.0
    fall = int(rng.integers(9, 15))
    g = 2 * (rest_y - top_y) / fall**2
    e = rng.uniform(0.55, 0.75)
    contacts, speeds, hops = [fall], [g * fall], []
    hop = 2 * e * fall
    while len(contacts) < count and round(hop) >= 3:
        hops.append(round(hop))
        contacts.append(contacts[-1] + hops[-1])
        speeds.append(g * hops[-1] / 2)
        hop *= e
    n = contacts[-1] + 3
    t = np.arange(n, dtype=np.float64)
    y = np.full(n, rest_y)
    y[: fall + 1] = top_y + 0.5 * g * t[: fall + 1] ** 2
    for c0, length in zip(contacts, hops, strict=False):
        u = t[c0 : c0 + length + 1] - c0
        y[c0 : c0 + length + 1] = rest_y - 0.5 * g * u * (length - u)
    sy = np.ones(n)
    sy[contacts] = 0.78
    sx = np.where(sy < 1, 1.18, 1.0)
    y = np.where(sy < 1, lane.floor_y - r * sy, y)
    strengths = tuple(strength_of(s, g * fall) for s in speeds)
    return EventMotion(np.full(n, x0), y, sx, sy, tuple(contacts), strengths)


def slide(
    rng: np.random.Generator, lane: Lane, x0: float, direction: str, x_range: tuple[float, float]
) -> EventMotion:
    """The object slides at constant speed into the ``direction`` wall, hits it once, rebounds and stops.

    ``x_range`` is where the object may rest (its share of the lane); the rebound stays in it.
    """
    r = lane.radius
    sign = -1.0 if direction == "left" else 1.0
    x_wall = lane.left_wall + r if sign < 0 else lane.right_wall - r
    v_max = (lane.right_wall - lane.left_wall) / 20.0
    contact = max(2, int(np.ceil(abs(x_wall - x0) / (rng.uniform(0.35, 1.0) * v_max))))
    speed = abs(x_wall - x0) / contact
    back_speed = rng.uniform(0.3, 0.6) * speed
    back = min(rng.uniform(0.2, 0.8) * max(0.0, x_range[1] - x_range[0] - 1.0), back_speed * MAX_STOP / 2)
    stop = max(4, int(np.ceil(2 * back / max(back_speed, 1e-6))))
    back_speed = 2 * back / stop
    t = np.arange(contact + 1, dtype=np.float64)
    x = np.concatenate([x0 + sign * speed * t, np.zeros(stop + 2)])
    u = np.arange(1, stop + 1, dtype=np.float64)
    x[contact + 1 : contact + stop + 1] = x_wall - sign * (back_speed * u - 0.5 * back_speed / stop * u**2)
    x[contact + stop + 1 :] = x_wall - sign * back
    sx = np.ones(len(x))
    sx[contact] = 0.8
    x[contact] = x_wall - sign * r * (sx[contact] - 1)
    sy = np.where(sx < 1, 1.15, 1.0)
    y = lane.floor_y - r * sy
    return EventMotion(x, y, sx, sy, (contact,), (strength_of(speed, v_max),))


def strike(rng: np.random.Generator, lane: Lane, x0: float, count: int) -> EventMotion:
    """A striker comes down from above the stage, hits the resting object ``count`` times, and leaves.

    As level 1's stick: it rises, then falls with constant acceleration onto the object's top;
    contact is the frame where its tip touches; higher lifts give faster, louder hits.
    """
    r = lane.radius
    top = lane.floor_y - 2 * r
    max_lift = 0.5 * top
    hover = top - 0.6 * max_lift
    enter = int(rng.integers(4, 7))
    contacts = [enter + STRIKE_FALL + int(rng.integers(1, 4))]
    while len(contacts) < count:
        contacts.append(contacts[-1] + int(rng.integers(9, 14)))
    lifts = rng.uniform(0.3, 1.0, len(contacts)) * max_lift
    n = contacts[-1] + 3 + STRIKER_EXIT + 1
    keys = [(0, -2.0), (enter, hover)]
    for c, lift in zip(contacts, lifts, strict=True):
        keys += [(c - STRIKE_FALL, top - lift), (c, top), (c + 3, hover)]
    keys.append((n - 1, -2.0))
    tip = np.interp(np.arange(n), *zip(*keys, strict=True))
    u = np.arange(STRIKE_FALL + 1)
    for c, lift in zip(contacts, lifts, strict=True):
        tip[c - STRIKE_FALL : c + 1] = top - lift * (1 - (u / STRIKE_FALL) ** 2)
    sy = np.ones(n)
    sy[contacts] = 0.85
    sx = np.where(sy < 1, 1.1, 1.0)
    y = lane.floor_y - r * sy
    tip = np.where(sy < 1, lane.floor_y - 2 * r * sy, tip)
    strengths = tuple(strength_of(lift / STRIKE_FALL, max_lift / STRIKE_FALL) for lift in lifts)
    return EventMotion(np.full(n, x0), y, sx, sy, tuple(contacts), strengths, tip)
