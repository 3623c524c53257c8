"""Backdrop textures of level 2 and the floor, each an (H, W, 3) float32 image from a seed.

Every texture repeats along x with period W (the world's width), so a backdrop scrolls by
shifting its columns. Colours stay dark to middling, so the objects stand out.
"""

from __future__ import annotations

import numpy as np

from avseq.data.synth.render import FLOOR_LINE_RGB, FLOOR_RGB


def _two_colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    a = rng.uniform(35, 125, 3)
    return a.astype(np.float32), np.clip(a * rng.uniform(0.55, 1.45, 3), 20, 170).astype(np.float32)


def _blend(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (a * (1 - w[..., None]) + b * w[..., None]).astype(np.float32)


def _bricks(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    a, mortar = _two_colours(rng)
    bh, bw = int(rng.integers(5, 9)), int(rng.integers(10, 18))
    yy, xx = np.mgrid[0:h, 0:w]
    row = yy // bh
    shifted = (xx + (row % 2) * (bw // 2)) % w
    jitter = rng.uniform(0.8, 1.2, (h // bh + 1, w // bw + 2)).astype(np.float32)
    img = a * jitter[row, shifted // bw][..., None]
    lines = (yy % bh == 0) | (shifted % bw == 0)
    img[lines] = mortar
    return img.astype(np.float32)


def _stripes(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    a, b = _two_colours(rng)
    turns = int(rng.integers(4, 12))  # whole periods across the width, so it repeats along x
    slant = float(rng.choice([-1.0, 0.0, 1.0]))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = 2 * np.pi * turns * (xx + slant * yy) / w
    return _blend(a, b, 0.5 + 0.5 * np.sin(phase))


def _checks(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    a, b = _two_colours(rng)
    cells = int(rng.integers(6, 14))  # whole cells across the width
    yy, xx = np.mgrid[0:h, 0:w]
    size = w / cells
    return _blend(a, b, ((np.floor(xx / size) + np.floor(yy / size)) % 2).astype(np.float32))


def _clouds(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    a, b = _two_colours(rng)
    noise = np.fft.fft2(rng.standard_normal((h, w)))
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij"))
    field = np.fft.ifft2(noise / (1 + (k / rng.uniform(0.03, 0.08)) ** 2)).real
    field = (field - field.min()) / max(float(np.ptp(field)), 1e-9)
    return _blend(a, b, field.astype(np.float32))


_MAKERS = {"bricks": _bricks, "stripes": _stripes, "checks": _checks, "clouds": _clouds}


def make_texture(kind: str, seed: int, height: int, width: int) -> np.ndarray:
    """Texture ``kind`` (see looks.TEXTURES) as (height, width, 3) float32, repeating along x."""
    return _MAKERS[kind](np.random.default_rng(seed), height, width)


def make_floor(seed: int, height: int, width: int, lines: tuple[int, ...]) -> np.ndarray:
    """(height, width, 3) float32 floor: tinted planks with a faint line at each row of ``lines``."""
    rng = np.random.default_rng(seed)
    base = FLOOR_RGB * rng.uniform(0.7, 1.2, 3).astype(np.float32)
    plank = int(rng.integers(3, 6))
    shade = np.where((np.arange(height) // plank) % 2 == 0, 1.0, 0.9).astype(np.float32)
    img = np.broadcast_to(base * shade[:, None, None], (height, width, 3)).copy()
    for row in lines:
        if 0 <= row < height:
            img[row] = 0.6 * img[row] + 0.4 * FLOOR_LINE_RGB
    return img
