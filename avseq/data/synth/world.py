"""The vocabulary of the synthetic world and the sampling of one scene from a seed.

A scene has one *sounding* object (it bounces, slides into a wall, or is
struck by a stick) and, optionally, a silent distractor that floats without
touching anything. Everything is drawn from a ``numpy`` generator, so a seed
fixes the whole scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avseq.data.synth import motion

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (225, 45, 40),
    "green": (45, 185, 70),
    "blue": (55, 100, 235),
    "yellow": (240, 210, 45),
    "purple": (165, 70, 210),
}
SHAPES = ("ball", "cube", "pyramid")
MATERIALS = ("metal", "wood", "glass", "rubber")
ACTIONS = ("bounce", "slide", "struck")
DIRECTIONS = ("left", "right")
EVENT_KINDS = {"bounce": "floor_hit", "slide": "wall_hit", "struck": "stick_hit"}


@dataclass(frozen=True)
class SceneObject:
    """One drawn object: its attributes, size (radius, pixels) and per-frame track."""

    shape: str
    colour: str
    material: str
    radius: float
    track: motion.Track

    @property
    def name(self) -> str:
        """Readable identity, e.g. ``"red metal ball"``."""
        return f"{self.colour} {self.material} {self.shape}"


@dataclass(frozen=True)
class Impact:
    """A sounding contact: video frame index, kind (``EVENT_KINDS`` values), strength in (0, 1]."""

    frame: int
    kind: str
    strength: float


@dataclass(frozen=True)
class Scene:
    """Everything needed to draw and sound one clip (all times as frame indices at ``fps``)."""

    layout: motion.Layout
    num_frames: int
    fps: float
    action: str
    direction: str
    main: SceneObject
    distractor: SceneObject | None
    stick: motion.StickMotion | None
    impacts: tuple[Impact, ...]
    noise_level: float

    @property
    def count(self) -> int:
        """Number of sounding impacts."""
        return len(self.impacts)


@dataclass(frozen=True)
class SceneOptions:
    """The parts of :class:`~avseq.data.synth.SynthConfig` that shape a scene."""

    width: int
    height: int
    fps: float
    num_frames: int
    shapes: tuple[str, ...]
    colours: tuple[str, ...]
    materials: tuple[str, ...]
    actions: tuple[str, ...]
    max_count: int
    distractor_prob: float
    noise_prob: float
    noise_level: float


def _pick(rng: np.random.Generator, choices: tuple[str, ...]) -> str:
    return str(choices[int(rng.integers(len(choices)))])


def sample_scene(rng: np.random.Generator, opts: SceneOptions) -> Scene:
    """Draw one scene: attributes, action, motion, impacts, distractor and noise."""
    layout = motion.Layout(opts.width, opts.height)
    r = layout.radius()
    shape, colour, material = _pick(rng, opts.shapes), _pick(rng, opts.colours), _pick(rng, opts.materials)
    action = _pick(rng, opts.actions)
    count = int(rng.integers(1, opts.max_count + 1))
    direction, stick = "", None
    if action == "bounce":
        mov = motion.bounce(rng, layout, opts.num_frames, count, r)
    elif action == "slide":
        direction = _pick(rng, DIRECTIONS)
        mov = motion.slide(rng, layout, opts.num_frames, direction, r)
    else:
        mov, stick = motion.struck(rng, layout, opts.num_frames, count, r)
    main = SceneObject(shape, colour, material, r, mov.track)
    impacts = tuple(
        Impact(f, EVENT_KINDS[action], s) for f, s in zip(mov.contact_frames, mov.strengths, strict=True)
    )
    distractor = None
    if rng.random() < opts.distractor_prob:
        distractor = _distractor(rng, opts, layout, main)
    noise = opts.noise_level if rng.random() < opts.noise_prob else 0.0
    return Scene(
        layout, opts.num_frames, opts.fps, action, direction, main, distractor, stick, impacts, noise
    )


def _distractor(
    rng: np.random.Generator, opts: SceneOptions, layout: motion.Layout, main: SceneObject
) -> SceneObject:
    """A floating object that differs from the main one in colour (so captions stay unambiguous)."""
    colours = tuple(c for c in opts.colours if c != main.colour) or opts.colours
    r = 0.8 * main.radius
    track = motion.float_path(rng, layout, opts.num_frames, r)
    return SceneObject(_pick(rng, opts.shapes), _pick(rng, colours), _pick(rng, opts.materials), r, track)
