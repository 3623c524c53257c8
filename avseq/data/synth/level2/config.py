"""``Level2Config``: every knob of the synthetic world's level 2, validated on construction.

Set from the command line as ``avseq synth --level 2 --set key=value`` (tuples comma-separated),
e.g. ``--set min_duration=4 --set max_duration=6 --set max_events=3`` for short clips.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from avseq.data.synth.config import WorldConfig, _as_names, _check_frame_size, _check_subset, _require
from avseq.data.synth.world import ACTIONS, COLOURS, MATERIALS, SHAPES
from avseq.errors import ConfigError

STRIKERS = ("stick", "hammer")
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow")
_OWNER = "Level2Config"


@dataclass(frozen=True)
class Level2Config(WorldConfig):
    """Size, timing, vocabulary, camera, sound and compression of level-2 clips.

    width, height: frame size (even); fps; min_duration, max_duration: clip length (s);
    sample_rate: audio Hz; shapes, colours, materials: vocabulary; actions: what events may be
    (``bounce`` is how an object enters, falling in from above; ``slide`` and ``struck`` need
    one of them); strikers: what may strike an object (stick, hammer);
    min_events, max_events: events per clip; min_objects, max_objects: objects on the floor;
    max_count: most hits in one event (1..6); overlap_prob: chance that an event starts while
    the one before it still sounds (one overlap per clip is always made); drop_prob: chance that
    an object enters by falling in (otherwise it rests on the floor from the start);
    max_occluders: most silent objects floating across in front (at least one when > 0);
    shake: camera shake (pixels, rough amplitude); zoom: largest zoom (1 = none);
    lighting: depth of brightness changes (0 = none); background_changes: most cross-fades to
    another backdrop texture; ambience_level: std of the background ambience (0 = none);
    offscreen_rate: off-screen sounds per second on average;
    captions_per_event, captions_per_clip: paraphrases; crf: H.264 quality (lower = better),
    used when video_kbps is 0; video_kbps: average video bitrate (kbit/s) instead of crf;
    preset: libx264 preset.
    """

    level: ClassVar[int] = 2

    width: int = 128
    height: int = 96
    fps: float = 15.0
    min_duration: float = 20.0
    max_duration: float = 60.0
    sample_rate: int = 16000
    shapes: tuple[str, ...] = SHAPES
    colours: tuple[str, ...] = tuple(COLOURS)
    materials: tuple[str, ...] = MATERIALS
    actions: tuple[str, ...] = ACTIONS
    strikers: tuple[str, ...] = STRIKERS
    min_events: int = 3
    max_events: int = 10
    min_objects: int = 2
    max_objects: int = 4
    max_count: int = 4
    overlap_prob: float = 0.3
    drop_prob: float = 0.5
    max_occluders: int = 2
    shake: float = 1.5
    zoom: float = 1.4
    lighting: float = 0.3
    background_changes: int = 2
    ambience_level: float = 0.01
    offscreen_rate: float = 0.08
    captions_per_event: int = 3
    captions_per_clip: int = 3
    crf: int = 28
    video_kbps: int = 0
    preset: str = "veryfast"

    def __post_init__(self) -> None:
        _as_names(self, ("shapes", "colours", "materials", "actions", "strikers"))
        _check_frame_size(self)
        self._check_ranges()
        for name, allowed in (
            ("shapes", SHAPES),
            ("colours", tuple(COLOURS)),
            ("materials", MATERIALS),
            ("actions", ACTIONS),
            ("strikers", STRIKERS),
        ):
            _check_subset(name, getattr(self, name), allowed, _OWNER)
        if not set(self.actions) & {"slide", "struck"}:
            raise ConfigError(
                f"{_OWNER}.actions must include slide or struck (bounce alone is only how an "
                f"object enters), got {list(self.actions)}"
            )
        if len(self.colours) * len(self.shapes) < self.max_objects:
            raise ConfigError(
                f"{_OWNER}: {len(self.colours)} colours x {len(self.shapes)} shapes cannot tell "
                f"max_objects={self.max_objects} objects apart"
            )
        if self.preset not in PRESETS:
            raise ConfigError(
                f"Invalid preset {self.preset!r} in {_OWNER}.preset. Supported: {', '.join(PRESETS)}"
            )

    def _check_ranges(self) -> None:
        def need(ok: bool, name: str, rule: str) -> None:
            _require(ok, name, getattr(self, name), rule, _OWNER)

        need(self.fps > 0, "fps", "> 0")
        need(self.sample_rate >= 8000, "sample_rate", ">= 8000")
        need(
            2.0 <= self.min_duration <= self.max_duration,
            "min_duration",
            f">= 2 and <= max_duration ({self.max_duration})",
        )
        need(
            1 <= self.min_events <= self.max_events,
            "min_events",
            f">= 1 and <= max_events ({self.max_events})",
        )
        need(self.max_events <= 20, "max_events", "<= 20")
        need(
            2 <= self.min_objects <= self.max_objects,
            "min_objects",
            f">= 2 and <= max_objects ({self.max_objects})",
        )
        need(self.max_objects <= 4, "max_objects", "<= 4 (two per depth lane)")
        need(1 <= self.max_count <= 6, "max_count", "in 1..6")
        for name in ("overlap_prob", "drop_prob"):
            need(0.0 <= getattr(self, name) <= 1.0, name, "in [0, 1]")
        need(0 <= self.max_occluders <= 4, "max_occluders", "in 0..4")
        need(0.0 <= self.shake <= 4.0, "shake", "in [0, 4]")
        need(1.0 <= self.zoom <= 2.0, "zoom", "in [1, 2]")
        need(0.0 <= self.lighting <= 0.6, "lighting", "in [0, 0.6]")
        need(0 <= self.background_changes <= 5, "background_changes", "in 0..5")
        need(0.0 <= self.ambience_level <= 0.2, "ambience_level", "in [0, 0.2]")
        need(0.0 <= self.offscreen_rate <= 1.0, "offscreen_rate", "in [0, 1]")
        need(self.captions_per_event >= 1, "captions_per_event", ">= 1")
        need(self.captions_per_clip >= 1, "captions_per_clip", ">= 1")
        need(0 <= self.crf <= 51, "crf", "in 0..51")
        need(0 <= self.video_kbps <= 10_000, "video_kbps", "in 0..10000 (0: use crf)")

    def encode_options(self) -> dict[str, str]:
        """libx264 options: ``video_kbps`` (with a rate cap) or ``crf``, the preset, one thread."""
        opts = {"preset": self.preset, "threads": "1"}
        if self.video_kbps:
            kbps = self.video_kbps
            return opts | {"b": f"{kbps}k", "maxrate": f"{2 * kbps}k", "bufsize": f"{4 * kbps}k"}
        return opts | {"crf": str(self.crf)}
