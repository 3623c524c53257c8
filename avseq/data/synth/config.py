"""``SynthConfig``: every knob of the synthetic world, validated on construction.

Set from the command line as ``--set key=value`` (tuples comma-separated),
e.g. ``--set width=64 --set materials=metal,wood``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from avseq.data.synth.world import ACTIONS, COLOURS, MATERIALS, SHAPES
from avseq.errors import ConfigError


@dataclass(frozen=True)
class SynthConfig:
    """Size, timing and vocabulary of generated clips (seconds, pixels, Hz).

    width, height: frame size (even, for H.264 yuv420p); fps: frame rate;
    min_duration, max_duration: clip length range in seconds; sample_rate: audio Hz;
    shapes, colours, materials, actions: vocabulary subsets to draw from;
    max_count: most impacts per clip (1..6); distractor_prob: chance of a silent
    floating object; noise_prob, noise_level: chance and std of background noise;
    captions_per_clip: paraphrases per clip; crf: H.264 quality (lower = better).
    """

    width: int = 96
    height: int = 96
    fps: float = 15.0
    min_duration: float = 2.0
    max_duration: float = 4.0
    sample_rate: int = 16000
    shapes: tuple[str, ...] = SHAPES
    colours: tuple[str, ...] = tuple(COLOURS)
    materials: tuple[str, ...] = MATERIALS
    actions: tuple[str, ...] = ACTIONS
    max_count: int = 4
    distractor_prob: float = 0.5
    noise_prob: float = 0.5
    noise_level: float = 0.01
    captions_per_clip: int = 4
    crf: int = 18

    def __post_init__(self) -> None:
        for name in ("shapes", "colours", "materials", "actions"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise ConfigError(f"SynthConfig.{name} must be a list of names, got the string {value!r}")
            object.__setattr__(self, name, tuple(value))
        for name, value in (("width", self.width), ("height", self.height)):
            if value < 16 or value % 2:
                raise ConfigError(f"SynthConfig.{name} must be an even number >= 16, got {value}")
        _require(self.fps > 0, "fps", self.fps, "> 0")
        _require(self.sample_rate >= 8000, "sample_rate", self.sample_rate, ">= 8000")
        _require(
            0.5 <= self.min_duration <= self.max_duration,
            "min_duration",
            self.min_duration,
            f">= 0.5 and <= max_duration ({self.max_duration})",
        )
        _require(1 <= self.max_count <= 6, "max_count", self.max_count, "in 1..6")
        _require(self.captions_per_clip >= 1, "captions_per_clip", self.captions_per_clip, ">= 1")
        _require(0 <= self.crf <= 51, "crf", self.crf, "in 0..51")
        for name in ("distractor_prob", "noise_prob"):
            _require(0.0 <= getattr(self, name) <= 1.0, name, getattr(self, name), "in [0, 1]")
        _require(0.0 <= self.noise_level <= 0.5, "noise_level", self.noise_level, "in [0, 0.5]")
        for name, allowed in (
            ("shapes", SHAPES),
            ("colours", tuple(COLOURS)),
            ("materials", MATERIALS),
            ("actions", ACTIONS),
        ):
            _check_subset(name, getattr(self, name), allowed)

    @classmethod
    def from_dict(cls, data: dict) -> SynthConfig:
        """Build from a mapping (e.g. a YAML section); unknown keys raise ConfigError listing the fields."""
        if not isinstance(data, dict):
            raise ConfigError(f"SynthConfig needs a mapping, got {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigError(f"Unknown SynthConfig keys {unknown}. Supported: {', '.join(names)}")
        return cls(**data)

    def to_dict(self) -> dict:
        """JSON-ready dict (tuples as lists); :meth:`from_dict` restores an equal config."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def with_overrides(self, pairs: list[str]) -> SynthConfig:
        """A copy with ``key=value`` strings applied; unknown keys or bad values raise ConfigError."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        changes = {}
        for pair in pairs:
            key, sep, text = pair.partition("=")
            key = key.strip()
            if not sep:
                raise ConfigError(f"Invalid setting {pair!r}: expected key=value")
            if key not in fields:
                raise ConfigError(f"Unknown SynthConfig key {key!r}. Supported: {', '.join(fields)}")
            changes[key] = _parse(key, text.strip(), getattr(self, key))
        return dataclasses.replace(self, **changes)


def _require(ok: bool, name: str, value: object, rule: str) -> None:
    if not ok:
        raise ConfigError(f"SynthConfig.{name} must be {rule}, got {value!r}")


def _check_subset(name: str, values: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    if not values:
        raise ConfigError(f"SynthConfig.{name} must not be empty. Supported: {', '.join(allowed)}")
    for v in values:
        if v not in allowed:
            raise ConfigError(
                f"Invalid {name[:-1]} {v!r} in SynthConfig.{name}. Supported: {', '.join(allowed)}"
            )


def _parse(key: str, text: str, current: object) -> object:
    if isinstance(current, tuple):
        return tuple(v.strip() for v in text.split(",") if v.strip())
    kind = type(current)
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"SynthConfig.{key} must be {kind.__name__}, got {text!r}") from None
