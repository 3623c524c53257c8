"""Draw a :class:`~avseq.data.synth.level2.world.Level2Scene` as RGB frames with numpy.

Each frame is painted on the world canvas (:mod:`.stage`): the scrolling, cross-fading backdrop,
the floor and walls, then the back lane's objects and strikers, the front lane's, and the
occluders in front of everything. Objects are drawn by level 1's :func:`~avseq.data.synth.render.draw_object`
(material shows in the shading as there). The camera then takes its view of the canvas (zoom and
shake, bilinear) and the lighting scales it.

While painting, a label map records which thing each world pixel shows, so the renderer also
returns how much of every object and occluder is painted and how much is still seen
(:class:`Visibility`): an object behind a front one or an occluder loses visible area.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avseq.data.synth.level2.looks import Backdrop
from avseq.data.synth.level2.stage import LANES, Stage
from avseq.data.synth.level2.textures import make_floor, make_texture
from avseq.data.synth.level2.world import Level2Scene
from avseq.data.synth.render import STICK_RGB, WALL_RGB, draw_object

HAMMER_HEAD_RGB = np.array([90, 90, 100], dtype=np.float32)


@dataclass(frozen=True, repr=False)
class Visibility:
    """Per frame and thing (the scene's objects, then its occluders), on the world canvas:
    area: pixels painted; visible: those still seen once everything in front is drawn. Both (T, K) int32."""

    area: np.ndarray
    visible: np.ndarray

    def fraction(self) -> np.ndarray:
        """(T, K) visible / area, NaN where the thing is not on the canvas."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.area > 0, self.visible / np.maximum(self.area, 1), np.nan)

    def __repr__(self) -> str:
        return f"Visibility(area={self.area.shape})"


def _static_layer(stage: Stage, seed: int) -> np.ndarray:
    """(H, W, 3) float32 world canvas with the floor, its lane lines and the walls (backdrop left black)."""
    h, w = stage.world_height, stage.world_width
    canvas = np.zeros((h, w, 3), dtype=np.float32)
    lines = tuple(round(stage.lane(lane).floor_y) - stage.horizon for lane in LANES)
    canvas[stage.horizon :] = make_floor(seed, h - stage.horizon, w, lines)
    inner = stage.margin + stage.wall_width
    shade = np.linspace(0.85, 1.05, h, dtype=np.float32)[:, None, None]
    canvas[:, :inner] = WALL_RGB * shade
    canvas[:, w - inner :] = WALL_RGB * shade
    return canvas


class _BackdropPainter:
    """Paints the backdrop of frame t: the current texture, scrolled, cross-fading into the next."""

    def __init__(self, backdrop: Backdrop, stage: Stage):
        self.b, self.stage = backdrop, stage
        self.textures = [
            make_texture(k, s, stage.horizon, stage.world_width)
            for k, s in zip(backdrop.kinds, backdrop.seeds, strict=True)
        ]
        self.cols = np.arange(stage.world_width)
        self.inner = stage.margin + stage.wall_width

    def _texture(self, i: int, t: int) -> np.ndarray:
        shift = int(round(self.b.scroll[i] * t))
        return self.textures[i][:, (self.cols + shift) % self.stage.world_width]

    def paint(self, canvas: np.ndarray, t: int) -> None:
        i = sum(1 for c in self.b.changes if c <= t)
        img = self._texture(i, t)
        if i > 0 and t < self.b.changes[i - 1] + self.b.fade:
            w = (t - self.b.changes[i - 1] + 1) / (self.b.fade + 1)
            img = (1 - w) * self._texture(i - 1, t) + w * img
        canvas[: self.stage.horizon, self.inner : -self.inner] = img[:, self.inner : -self.inner]


def _draw_striker(
    canvas: np.ndarray, labels: np.ndarray, kind: str, x: float, tip_y: float, radius: float, label: int
) -> None:
    """A stick hanging from the top down to ``tip_y``; a hammer has a head at its end."""
    h, w = canvas.shape[:2]
    half = max(1.0, 0.22 * radius)
    x0, x1 = max(0, int(round(x - half))), min(w, int(round(x + half)))
    y1 = int(np.clip(round(tip_y), 0, h))
    canvas[:y1, x0:x1] = STICK_RGB
    labels[:y1, x0:x1] = label
    if kind == "hammer":
        head = max(2, int(round(0.7 * radius)))
        hx0, hx1 = max(0, int(round(x - 0.9 * radius))), min(w, int(round(x + 0.9 * radius)))
        y0 = max(0, y1 - head)
        canvas[y0:y1, hx0:hx1] = HAMMER_HEAD_RGB
        labels[y0:y1, hx0:hx1] = label


def _paint(canvas: np.ndarray, labels: np.ndarray, obj, t: int, label: int) -> int:
    """Draw one object; mark its pixels in ``labels``; return how many it painted."""
    painted = draw_object(canvas, obj, t)
    if painted is None:
        return 0
    y0, x0, mask = painted
    labels[y0 : y0 + mask.shape[0], x0 : x0 + mask.shape[1]][mask] = label
    return int(mask.sum())


def _shoot(canvas: np.ndarray, scene: Level2Scene, t: int) -> np.ndarray:
    """The camera's view of the world canvas at frame t, lit: (H, W, 3) uint8 (bilinear, zoom + shake)."""
    stage, cam = scene.stage, scene.camera
    z = float(cam.zoom[t])
    hw, ww = canvas.shape[:2]
    ys = cam.y[t] + (np.arange(stage.height) + 0.5 - stage.height / 2) / z - 0.5
    xs = cam.x[t] + (np.arange(stage.width) + 0.5 - stage.width / 2) / z - 0.5
    y0 = np.clip(np.floor(ys).astype(int), 0, hw - 2)
    x0 = np.clip(np.floor(xs).astype(int), 0, ww - 2)
    fy = np.clip(ys - y0, 0, 1).astype(np.float32)[:, None, None]
    fx = np.clip(xs - x0, 0, 1).astype(np.float32)[None, :, None]
    rows = canvas[y0] * (1 - fy) + canvas[y0 + 1] * fy
    img = (rows[:, x0] * (1 - fx) + rows[:, x0 + 1] * fx) * scene.lighting.gain[t].astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def view_position(scene: Level2Scene, x: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(K, 2) where the world points ``x``, ``y`` (K,) (world pixels, as tracks give them) are seen
    on frames ``t`` (K,): as fractions of the view's width and height, (0, 0) its top-left corner
    and (1, 1) its bottom-right, outside [0, 1] when out of view. The inverse of :func:`_shoot`."""
    cam, stage = scene.camera, scene.stage
    zoom = cam.zoom[t]
    return np.stack(
        [0.5 + (x - cam.x[t]) * zoom / stage.width, 0.5 + (y - cam.y[t]) * zoom / stage.height], axis=1
    )


def render_frames(scene: Level2Scene) -> tuple[np.ndarray, Visibility]:
    """Frames of ``scene`` as uint8 (T, H, W, 3) RGB, and the visibility of its objects and occluders."""
    stage = scene.stage
    static = _static_layer(stage, scene.backdrop.seeds[0] + 1)
    backdrop = _BackdropPainter(scene.backdrop, stage)
    strikes = [e for e in scene.events if e.motion.tip_y is not None]
    things = len(scene.objects) + len(scene.occluders)
    striker_label = things  # strikers hide what is behind them but are not counted
    area = np.zeros((scene.num_frames, things), dtype=np.int32)
    visible = np.zeros_like(area)
    labels = np.empty((stage.world_height, stage.world_width), dtype=np.int16)
    out = np.empty((scene.num_frames, stage.height, stage.width, 3), dtype=np.uint8)
    for t in range(scene.num_frames):
        canvas = static.copy()
        backdrop.paint(canvas, t)
        labels.fill(-1)
        for lane in LANES:
            for i, obj in enumerate(scene.objects):
                if scene.lanes[i] == lane:
                    area[t, i] = _paint(canvas, labels, obj, t, i)
            for e in strikes:
                if scene.lanes[e.obj] == lane and e.start <= t < e.end:
                    r = scene.objects[e.obj].radius
                    _draw_striker(
                        canvas, labels, e.actor, e.motion.x[0], e.motion.tip_y[t - e.start], r, striker_label
                    )
        for j, occ in enumerate(scene.occluders):
            area[t, len(scene.objects) + j] = _paint(canvas, labels, occ, t, len(scene.objects) + j)
        visible[t] = np.bincount(labels.ravel() + 1, minlength=things + 2)[1 : things + 1]
        out[t] = _shoot(canvas, scene, t)
    return out, Visibility(area, visible)
