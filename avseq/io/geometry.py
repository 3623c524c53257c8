"""Output sizes of frames: pure arithmetic shared by the decoder and the frame transforms."""

from __future__ import annotations

from dataclasses import dataclass


def cover_size(height: int, width: int, size: tuple[int, int]) -> tuple[int, int]:
    """(H, W) of a ``height`` x ``width`` frame scaled, aspect kept, to just cover ``size = (H, W)``.

    The rule of the ``fit`` transform: scale by ``max(H / height, W / width)``, round, and never
    fall below ``size`` (a center crop to ``size`` follows).
    """
    h, w = size
    scale = max(h / height, w / width)
    return max(h, round(height * scale)), max(w, round(width * scale))


@dataclass(frozen=True)
class Cover:
    """A decode size: scale (aspect kept) so each frame covers every (H, W) in ``sizes``, never up.

    A frame smaller than what its consumers need stays at its own size (they upscale it).
    stretch: with a single size, scale straight to it instead (for consumers that stretch).
    """

    sizes: tuple[tuple[int, int], ...]
    stretch: bool = False

    def __post_init__(self) -> None:
        ok = len(self.sizes) > 0 and all(
            len(s) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in s)
            for s in self.sizes
        )
        if not ok:
            raise ValueError(f"Invalid Cover sizes {self.sizes!r}: need one or more (H, W) positive ints")

    def output(self, height: int, width: int) -> tuple[int, int]:
        """(H, W) for a ``height`` x ``width`` frame as displayed."""
        if self.stretch and len(self.sizes) == 1:
            h, w = self.sizes[0]
            return (h, w) if h <= height and w <= width else (height, width)
        covers = [cover_size(height, width, s) for s in self.sizes]
        out = (max(c[0] for c in covers), max(c[1] for c in covers))
        return (height, width) if out[0] >= height or out[1] >= width else out
