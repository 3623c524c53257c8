"""The timeline of a level-2 clip: which object does what, and when.

Events are placed in turn. Each either starts after the last one ended (after a gap sized so
that the events spread over the clip) or, with ``overlap_prob`` (and for one event of every clip
of two or more), on another object so that its first contact falls among the contacts of the
event placed before it: two objects move and sound at once. An object does one thing at a time; an object
that enters falls in (``bounce``) before anything else happens to it; ``slide`` and ``bounce``
only ever come after the object's other events (they move it), ``struck`` may go into any free
stretch of a present object. An event that fits nowhere is dropped, so a clip too short for
its events holds fewer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from avseq.data.synth.level2 import motion
from avseq.data.synth.level2.stage import Stage

ACTOR_SELF = ""  # the object moves by itself (bounce, slide)


@dataclass(frozen=True)
class PlannedEvent:
    """One event on object ``obj``: its action, actor (a striker, or ``ACTOR_SELF``), slide direction,
    first frame ``start`` and motion (frames from ``start``)."""

    obj: int
    action: str
    actor: str
    direction: str
    start: int
    motion: motion.EventMotion

    @property
    def end(self) -> int:
        """First frame after the event."""
        return self.start + self.motion.length

    @property
    def contacts(self) -> tuple[int, ...]:
        """Frames of its contacts (sounds) in the clip."""
        return tuple(self.start + c for c in self.motion.contacts)


@dataclass
class ObjectPlan:
    """What the planner knows of one object: lane, where it may rest, where it starts, whether
    it enters by falling in, and its events so far."""

    lane: int
    x_range: tuple[float, float]
    side: str  # the walls it may slide into: "left", "right" or "both"
    x0: float
    enters: bool
    events: list[PlannedEvent] = field(default_factory=list)

    def x_at(self, frame: int) -> float:
        """Where it rests at ``frame`` (outside its events)."""
        done = [e for e in self.events if e.end <= frame]
        return max(done, key=lambda e: e.end).motion.end_x if done else self.x0

    def present_at(self, frame: int) -> bool:
        return not self.enters or any(e.action == "bounce" and e.end <= frame for e in self.events)

    def free(self, start: int, end: int, gap: int) -> bool:
        return all(e.end + gap <= start or end + gap <= e.start for e in self.events)

    @property
    def last_end(self) -> int:
        return max((e.end for e in self.events), default=0)


@dataclass(frozen=True)
class PlanOptions:
    """The parts of :class:`~avseq.data.synth.level2.Level2Config` the planner reads."""

    num_frames: int
    fps: float
    actions: tuple[str, ...]
    strikers: tuple[str, ...]
    min_events: int
    max_events: int
    max_count: int
    overlap_prob: float


class _Planner:
    """Builds candidate events and checks them against the objects' timelines; ``gap``: least
    frames between two events of one object; ``limit``: the frame every event ends by."""

    def __init__(self, rng: np.random.Generator, opts: PlanOptions, stage: Stage, objects: list[ObjectPlan]):
        self.rng, self.opts, self.stage, self.objects = rng, opts, stage, objects
        self.gap = max(1, round(0.3 * opts.fps))
        self.limit = opts.num_frames - round(0.5 * opts.fps)

    def build(self, obj: int, start: int, max_count: int) -> PlannedEvent | None:
        """The event object ``obj`` would do from ``start`` (its action drawn here), or None."""
        plan, rng = self.objects[obj], self.rng
        lane = self.stage.lane(plan.lane)
        count = int(rng.integers(1, max_count + 1))
        if plan.enters and not plan.events:
            return PlannedEvent(
                obj, "bounce", ACTOR_SELF, "", start, motion.fall_and_bounce(rng, lane, plan.x0, count)
            )
        if not plan.present_at(start):
            return None
        x = plan.x_at(start)
        walls = {"left": lane.left_wall + lane.radius, "right": lane.right_wall - lane.radius}
        sides = ("left", "right") if plan.side == "both" else (plan.side,)
        directions = [d for d in sides if abs(walls[d] - x) >= 2 * lane.radius]
        choices = [a for a in ("slide", "struck") if a in self.opts.actions and (a == "struck" or directions)]
        if not choices:
            return None
        action = str(choices[int(rng.integers(len(choices)))])
        if action == "struck":
            actor = str(self.opts.strikers[int(rng.integers(len(self.opts.strikers)))])
            return PlannedEvent(obj, action, actor, "", start, motion.strike(rng, lane, x, count))
        farthest_first = sorted(directions, key=lambda d: -abs(walls[d] - x))
        direction = farthest_first[0 if len(directions) == 1 or rng.random() < 0.75 else 1]
        return PlannedEvent(
            obj, action, ACTOR_SELF, direction, start, motion.slide(rng, lane, x, direction, plan.x_range)
        )

    def fits(self, event: PlannedEvent) -> bool:
        plan = self.objects[event.obj]
        if event.start < 0 or event.end > self.limit or not plan.free(event.start, event.end, self.gap):
            return False
        if event.action == "struck":  # where it rests then is where the strike was built
            return plan.present_at(event.start) and plan.x_at(event.start) == event.motion.x[0]
        return event.start >= plan.last_end + self.gap * bool(plan.events)

    def moved(self, event: PlannedEvent, start: int) -> PlannedEvent:
        return PlannedEvent(event.obj, event.action, event.actor, event.direction, start, event.motion)

    def overlapping(self, placed: list[PlannedEvent]) -> PlannedEvent | None:
        """An event on another object whose first contact falls among the contacts of the event
        placed last (failing that, of one of the two before it)."""
        for partner in placed[::-1][:3]:
            lo, hi = partner.contacts[0], partner.contacts[-1] + round(0.3 * self.opts.fps)
            for obj in (int(i) for i in self.rng.permutation(len(self.objects))):
                if obj == partner.obj:
                    continue
                probe = max(partner.start, self.objects[obj].last_end + self.gap)
                for max_count in (self.opts.max_count, 1):
                    event = self.build(obj, probe, max_count)
                    if event is None:
                        break
                    event = self.moved(event, int(self.rng.integers(lo, hi + 1)) - event.motion.contacts[0])
                    if self.fits(event):
                        return event
        return None

    def after(self, cursor: int) -> PlannedEvent | None:
        """An event from ``cursor`` on, on an object free by then (else the one free soonest)."""
        order = [int(i) for i in self.rng.permutation(len(self.objects))]
        ready = [
            i for i in order if self.objects[i].last_end + self.gap <= cursor or not self.objects[i].events
        ]
        obj = ready[0] if ready else min(order, key=lambda i: self.objects[i].last_end)
        start = max(cursor, self.objects[obj].last_end + self.gap if self.objects[obj].events else 0)
        for max_count in (self.opts.max_count, 1):
            event = self.build(obj, start, max_count)
            if event is not None and self.fits(event):
                return event
        return None

    def anywhere(self) -> PlannedEvent | None:
        """A struck event in any free stretch of a present object (for clips that ran out of room)."""
        if "struck" not in self.opts.actions:
            return None
        for _ in range(40):
            obj = int(self.rng.integers(len(self.objects)))
            start = int(self.rng.integers(0, max(1, self.limit - 10)))
            plan = self.objects[obj]
            if not plan.present_at(start) or (plan.enters and not plan.events):
                continue
            lane = self.stage.lane(plan.lane)
            count = int(self.rng.integers(1, self.opts.max_count + 1))
            actor = str(self.opts.strikers[int(self.rng.integers(len(self.opts.strikers)))])
            event = PlannedEvent(
                obj, "struck", actor, "", start, motion.strike(self.rng, lane, plan.x_at(start), count)
            )
            if self.fits(event):
                return event
        return None


def plan_events(
    rng: np.random.Generator, opts: PlanOptions, stage: Stage, objects: list[ObjectPlan]
) -> list[PlannedEvent]:
    """Place ``min_events..max_events`` events (fewer if the clip cannot hold them); also appends
    each to its object's ``events``. Returns them sorted by start.

    Which events overlap one placed before them is drawn first (one always, when there are two
    or more, and the next ones until one does), so the groups of events that do not overlap
    spread evenly over the clip.
    """
    planner = _Planner(rng, opts, stage, objects)
    n = int(rng.integers(opts.min_events, opts.max_events + 1))
    overlap = [k > 0 and rng.random() < opts.overlap_prob for k in range(n)]
    forced = int(rng.integers(1, n)) if n > 1 else n
    overlap[forced : forced + 1] = [True] * (forced < n)
    group_len = 2.5 * opts.fps
    cursor = int(rng.integers(round(0.3 * opts.fps), round(1.5 * opts.fps) + 1))
    placed: list[PlannedEvent] = []
    overlapped = False
    for k in range(n):
        want = placed and (overlap[k] or (k >= forced and not overlapped))
        event = planner.overlapping(placed) if want else None
        overlapped |= event is not None
        if event is None:
            groups = 1 + sum(1 for flag in overlap[k + 1 :] if not flag)
            spare = (planner.limit - cursor - groups * group_len) / (groups + 1)
            event = planner.after(cursor + int(rng.uniform(0.5, 1.5) * max(0.0, spare)))
        if event is None:
            event = planner.anywhere()
        if event is None:
            continue
        objects[event.obj].events.append(event)
        placed.append(event)
        cursor = max(cursor, event.end + planner.gap)
    return sorted(placed, key=lambda e: (e.start, e.obj))
