"""The levels of the synthetic world: one registry entry per level, each a config class and a renderer.

``avseq synth --level N`` and :func:`~avseq.data.synth.split.generate_split` find a level here;
a config names its own level (``config.level``), so the split writer renders and encodes any
level's clips the same way.

======  =============================================================================
level   clips
======  =============================================================================
1       2-4 s, one sounding object, one action, a still camera, one caption per clip
2       20-60 s, 3-10 overlapping events of 2-4 objects, occlusion, a moving camera,
        changing light and backdrop, ambience; ground truth and captions per event
======  =============================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from avseq.data.synth.clip import render_clip
from avseq.data.synth.config import SynthConfig, WorldConfig
from avseq.data.synth.level2 import Level2Config, render_level2
from avseq.errors import ConfigError
from avseq.registry import Registry


@dataclass(frozen=True)
class Level:
    """One level: its number, config class and ``render(seed, config) -> clip``.

    A clip has ``frames`` (T, H, W, 3) uint8, ``audio`` (N,) float32, ``captions``, ``events``,
    ``attributes`` and ``duration`` (s): what the split writer stores.
    """

    number: int
    config: type[WorldConfig]
    render: Callable[[int, Any], Any]


LEVELS: Registry[Level] = Registry("synth level")
LEVELS.register("1")(Level(1, SynthConfig, render_clip))
LEVELS.register("2")(Level(2, Level2Config, render_level2))


def get_level(number: int) -> Level:
    """The level ``number``; an unknown one raises UnknownNameError listing the levels."""
    return LEVELS.get(str(number))


def level_of(config: WorldConfig) -> Level:
    """The level whose config ``config`` is."""
    level = get_level(config.level)
    if not isinstance(config, level.config):
        raise ConfigError(
            f"{type(config).__name__} claims level {config.level}, whose config is {level.config.__name__}"
        )
    return level


def config_from_dict(data: dict) -> WorldConfig:
    """The config of the level ``data["level"]`` names (1 when absent), from the rest of ``data``."""
    if not isinstance(data, dict):
        raise ConfigError(f"a synthetic world config needs a mapping, got {type(data).__name__}")
    return get_level(data.get("level", 1)).config.from_dict(data)
