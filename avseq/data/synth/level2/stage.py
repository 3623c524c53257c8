"""Geometry of the level-2 stage, in world pixels.

The world canvas is the frame plus a margin on every side, which camera shake and zoom move
over (the camera sees ``width x height`` world pixels at zoom 1). A textured backdrop fills
the top, the floor the rest; two walls stand at the sides. Objects stand in two depth lanes:
the back lane higher on the floor with smaller objects, the front lane lower with larger ones,
so a front object that passes a back one hides part of it.
"""

from __future__ import annotations

from dataclasses import dataclass

LANES = (0, 1)  # 0: back, 1: front
_LANE_FLOOR = (0.78, 0.88)  # floor line of each lane, as a fraction of the world height
_LANE_RADIUS = (0.065, 0.085)


@dataclass(frozen=True)
class Lane:
    """One depth lane: its floor line y, its objects' radius and the walls' inner faces (x)."""

    floor_y: float
    radius: float
    left_wall: float
    right_wall: float

    @property
    def x_range(self) -> tuple[float, float]:
        """Where an object's centre may be on this lane (between the walls)."""
        return self.left_wall + self.radius, self.right_wall - self.radius


@dataclass(frozen=True)
class Stage:
    """The stage for frames of ``width x height``; every length below is in world pixels."""

    width: int
    height: int

    @property
    def margin(self) -> int:
        """World pixels around the frame's view at zoom 1 on every side."""
        return max(2, round(0.05 * min(self.width, self.height)))

    @property
    def world_width(self) -> int:
        return self.width + 2 * self.margin

    @property
    def world_height(self) -> int:
        return self.height + 2 * self.margin

    @property
    def horizon(self) -> int:
        """First row of the floor (the backdrop is above it)."""
        return round(0.70 * self.world_height)

    @property
    def wall_width(self) -> int:
        """Thickness of each side wall, as seen at zoom 1."""
        return max(2, round(0.06 * self.width))

    def lane(self, lane: int) -> Lane:
        """Geometry of lane 0 (back) or 1 (front)."""
        inner = self.margin + self.wall_width
        return Lane(
            _LANE_FLOOR[lane] * self.world_height,
            max(2.5, _LANE_RADIUS[lane] * self.world_height),
            float(inner),
            float(self.world_width - inner),
        )
