"""``SynthConfig``: every knob of the synthetic world's level 1, validated on construction.

Set from the command line as ``--set key=value`` (tuples comma-separated),
e.g. ``--set width=64 --set materials=metal,wood``. :class:`WorldConfig` holds what every
level's config shares (``from_dict``, ``to_dict``, ``with_overrides``, the encoder options);
level 2's is :class:`avseq.data.synth.level2.Level2Config`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from avseq.data.synth.world import ACTIONS, COLOURS, MATERIALS, SHAPES
from avseq.errors import ConfigError


class WorldConfig:
    """What the config dataclasses of every level share; ``level`` names the level.

    ``to_dict`` writes ``level`` for levels above 1 (so level 1's stored configs stay as they
    were), and ``from_dict`` accepts it when it names the class's own level.
    """

    level: ClassVar[int] = 1

    @classmethod
    def from_dict(cls, data: dict) -> WorldConfig:
        """Build from a mapping (e.g. a YAML section); unknown keys raise ConfigError listing the fields."""
        if not isinstance(data, dict):
            raise ConfigError(f"{cls.__name__} needs a mapping, got {type(data).__name__}")
        data = dict(data)
        level = data.pop("level", cls.level)
        if level != cls.level:
            raise ConfigError(f"{cls.__name__} is the config of level {cls.level}, got level {level!r}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigError(f"Unknown {cls.__name__} keys {unknown}. Supported: {', '.join(names)}")
        return cls(**data)

    def to_dict(self) -> dict:
        """JSON-ready dict (tuples as lists); :meth:`from_dict` restores an equal config."""
        head = {"level": self.level} if self.level != 1 else {}
        fields = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}
        return head | fields

    def with_overrides(self, pairs: list[str]) -> WorldConfig:
        """A copy with ``key=value`` strings applied; unknown keys or bad values raise ConfigError."""
        owner = type(self).__name__
        fields = {f.name: f for f in dataclasses.fields(self)}
        changes = {}
        for pair in pairs:
            key, sep, text = pair.partition("=")
            key = key.strip()
            if not sep:
                raise ConfigError(f"Invalid setting {pair!r}: expected key=value")
            if key not in fields:
                raise ConfigError(f"Unknown {owner} key {key!r}. Supported: {', '.join(fields)}")
            changes[key] = _parse(owner, key, text.strip(), getattr(self, key))
        return dataclasses.replace(self, **changes)

    def encode_options(self) -> dict[str, str]:
        """libx264 options of the clips' video, one thread among them (see split.write_clip)."""
        raise NotImplementedError(f"{type(self).__name__} does not say how its clips are encoded")


@dataclass(frozen=True)
class SynthConfig(WorldConfig):
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
        _as_names(self, ("shapes", "colours", "materials", "actions"))
        _check_frame_size(self)
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

    def encode_options(self) -> dict[str, str]:
        """libx264 options: constant quality ``crf`` and one thread (see split.write_clip)."""
        return {"crf": str(self.crf), "threads": "1"}


def _check_frame_size(config: object) -> None:
    for name in ("width", "height"):
        value = getattr(config, name)
        if value < 16 or value % 2:
            raise ConfigError(f"{type(config).__name__}.{name} must be an even number >= 16, got {value}")


def _require(ok: bool, name: str, value: object, rule: str, owner: str = "SynthConfig") -> None:
    if not ok:
        raise ConfigError(f"{owner}.{name} must be {rule}, got {value!r}")


def _check_subset(
    name: str, values: tuple[str, ...], allowed: tuple[str, ...], owner: str = "SynthConfig"
) -> None:
    if not values:
        raise ConfigError(f"{owner}.{name} must not be empty. Supported: {', '.join(allowed)}")
    for v in values:
        if v not in allowed:
            raise ConfigError(f"Invalid {name[:-1]} {v!r} in {owner}.{name}. Supported: {', '.join(allowed)}")


def _as_names(config: object, names: tuple[str, ...]) -> None:
    """Store the list fields ``names`` of a frozen config as tuples; a bare string is refused."""
    for name in names:
        value = getattr(config, name)
        if isinstance(value, str):
            raise ConfigError(
                f"{type(config).__name__}.{name} must be a list of names, got the string {value!r}"
            )
        object.__setattr__(config, name, tuple(value))


def _parse(owner: str, key: str, text: str, current: object) -> object:
    if isinstance(current, tuple):
        return tuple(v.strip() for v in text.split(",") if v.strip())
    kind = type(current)
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{owner}.{key} must be {kind.__name__}, got {text!r}") from None
