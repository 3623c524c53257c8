"""Draw a :class:`~avseq.data.synth.world.Scene` as RGB frames with numpy.

The stage is a dark backdrop, a bright floor line and two light walls, so
contact is visible: an object touching the floor line or a wall face (and
squashed on that frame) is an impact. Material shows in the shading:

- metal: a gradient with a bright specular highlight,
- wood: horizontal stripes,
- glass: translucent fill with a light outline,
- rubber: a matte fill with a dark rim.
"""

from __future__ import annotations

import numpy as np

from avseq.data.synth.motion import Layout
from avseq.data.synth.world import COLOURS, Scene, SceneObject

FLOOR_RGB = np.array([120, 105, 90], dtype=np.float32)
FLOOR_LINE_RGB = np.array([235, 235, 225], dtype=np.float32)
WALL_RGB = np.array([175, 175, 185], dtype=np.float32)
STICK_RGB = np.array([200, 160, 110], dtype=np.float32)


def render_frames(scene: Scene) -> np.ndarray:
    """Frames of ``scene`` as uint8 (T, H, W, 3) RGB."""
    layout = scene.layout
    backdrop = _backdrop(layout)
    out = np.empty((scene.num_frames, layout.height, layout.width, 3), dtype=np.uint8)
    for t in range(scene.num_frames):
        canvas = backdrop.copy()
        if scene.distractor is not None:
            draw_object(canvas, scene.distractor, t)
        draw_object(canvas, scene.main, t)
        if scene.stick is not None:
            _draw_stick(canvas, scene.stick.x, float(scene.stick.tip_y[t]), scene.main.radius)
        out[t] = np.clip(canvas, 0, 255).astype(np.uint8)
    return out


def _backdrop(layout: Layout) -> np.ndarray:
    """(H, W, 3) float32 backdrop: vertical gradient, floor, floor line and walls."""
    h, w = layout.height, layout.width
    shade = np.linspace(38, 62, h, dtype=np.float32)[:, None, None]
    canvas = np.broadcast_to(shade * np.array([0.9, 0.95, 1.1], np.float32), (h, w, 3)).copy()
    floor = int(round(layout.floor_y))
    canvas[floor:] = FLOOR_RGB
    canvas[floor : floor + max(1, h // 48)] = FLOOR_LINE_RGB
    wall = int(round(layout.wall_width))
    canvas[:floor, :wall] = WALL_RGB
    canvas[:floor, w - wall :] = WALL_RGB
    return canvas


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside-test in object coordinates u, v in [-1, 1] (v down; the base sits at v = 1)."""
    if shape == "ball":
        return u * u + v * v <= 1.0
    if shape == "cube":
        return (np.abs(u) <= 1.0) & (np.abs(v) <= 1.0)
    return (v <= 1.0) & (np.abs(u) <= (v + 1.0) / 2.0)


def draw_object(canvas: np.ndarray, obj: SceneObject, t: int) -> tuple[int, int, np.ndarray] | None:
    """Paint ``obj`` as posed at frame ``t`` into ``canvas`` (H, W, 3) float32, in place.

    Returns the painted pixels as ``(y0, x0, mask)``: mask (h, w) bool of the rows and columns
    from ``y0``, ``x0``; None when the object lies off the canvas.
    """
    tr = obj.track
    cx, cy = float(tr.x[t]), float(tr.y[t])
    rx, ry = obj.radius * float(tr.sx[t]), obj.radius * float(tr.sy[t])
    h, w = canvas.shape[:2]
    x0, x1 = max(0, int(np.floor(cx - rx))), min(w, int(np.ceil(cx + rx)) + 1)
    y0, y1 = max(0, int(np.floor(cy - ry))), min(h, int(np.ceil(cy + ry)) + 1)
    if x0 >= x1 or y0 >= y1:
        return None
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5
    u, v = (xx - cx) / rx, (yy - cy) / ry
    mask = _shape_mask(obj.shape, u, v)
    c = 1.0 / 3.0 if obj.shape == "pyramid" else 0.0  # centroid, so the rim has even width
    inner = _shape_mask(obj.shape, u / 0.7, (v - c) / 0.7 + c)
    region = canvas[y0:y1, x0:x1]
    base = np.array(COLOURS[obj.colour], dtype=np.float32)
    painted = _shade(obj.material, base, region, u, v, mask & ~inner)
    region[mask] = painted[mask]
    return y0, x0, mask


def _shade(
    material: str, base: np.ndarray, under: np.ndarray, u: np.ndarray, v: np.ndarray, rim: np.ndarray
) -> np.ndarray:
    """Colour (h, w, 3) of each pixel for ``material``; ``under`` is what lies behind."""
    if material == "metal":
        d = np.hypot(u + 0.35, v + 0.4)
        grad = (0.45 + 0.55 * np.clip(1.1 - 0.55 * d, 0, 1))[..., None]
        spec = np.clip(1.0 - d / 0.38, 0, 1)[..., None]
        return base * grad * (1 - spec) + 255.0 * spec
    if material == "wood":
        stripes = (np.sin((v + 1.0) * 2.5 * np.pi) > 0)[..., None]
        return base * np.where(stripes, 0.95, 0.55)
    if material == "glass":
        fill = 0.45 * base + 0.55 * under
        return np.where(rim[..., None], 0.5 * base + 0.5 * 255.0, fill)
    return np.where(rim[..., None], base * 0.3, base * 0.8)


def _draw_stick(canvas: np.ndarray, x: float, tip_y: float, radius: float) -> None:
    """A vertical stick hanging from the top edge down to ``tip_y`` (pixels)."""
    half = max(1.0, 0.22 * radius)
    h, w = canvas.shape[:2]
    x0, x1 = max(0, int(round(x - half))), min(w, int(round(x + half)))
    y1 = int(np.clip(round(tip_y), 0, h))
    canvas[:y1, x0:x1] = STICK_RGB
