"""The preprocessing a bundle's weights were trained with, and the check that a pipeline agrees.

A pipeline that runs a bundle takes these values from it. A pipeline file may restate
them; :meth:`Preprocessing.check_compatible` refuses any value that contradicts the
bundle, naming both, and lets through the few keys that are run-time choices.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from avseq.errors import ConfigError
from avseq.transforms.mel import MelRecipe, get_recipe

FrameTransform = Literal["fit", "resize"]
# Keys a pipeline may set to a value different from the bundle's (run-time choices).
RUNTIME_KEYS = ("window",)


@dataclass(frozen=True)
class Preprocessing:
    """How inputs must be prepared for a model.

    Attributes:
        fps: frames sampled per second of video (exactly one of ``fps`` / ``num_frames``).
        num_frames: or N frames sampled uniformly over the clip.
        frame_size: (H, W) of the frames the encoder sees.
        frame_transform: "fit" (cover (H, W) keeping aspect, then center-crop) or "resize" (stretch).
        mel: the mel recipe dict (sound models; None for captioners).
        sample_rate: Hz of the audio (the mel recipe's when ``mel`` is set).
        window: seconds per window when a long video is processed in pieces (None = whole clip).
        extra: free-form JSON-able settings other stages may need.
    """

    frame_size: tuple[int, int]
    fps: float | None = None
    num_frames: int | None = None
    frame_transform: FrameTransform = "fit"
    mel: dict[str, Any] | None = None
    sample_rate: int | None = None
    window: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        size = tuple(self.frame_size) if isinstance(self.frame_size, (list, tuple)) else ()
        if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
            raise ConfigError(
                f"Invalid preprocessing frame_size {self.frame_size!r}: need [H, W] positive ints"
            )
        object.__setattr__(self, "frame_size", size)
        if (self.fps is None) == (self.num_frames is None):
            raise ConfigError(
                f"preprocessing needs exactly one of fps / num_frames, got fps={self.fps} "
                f"num_frames={self.num_frames}"
            )
        if self.fps is not None and not (math.isfinite(self.fps) and self.fps > 0):
            raise ConfigError(f"Invalid preprocessing fps {self.fps!r}: must be > 0")
        if self.num_frames is not None and (not isinstance(self.num_frames, int) or self.num_frames <= 0):
            raise ConfigError(f"Invalid preprocessing num_frames {self.num_frames!r}: must be a positive int")
        if self.frame_transform not in get_args(FrameTransform):
            raise ConfigError(
                f"Invalid preprocessing frame_transform {self.frame_transform!r}. "
                f"Supported: {', '.join(get_args(FrameTransform))}"
            )
        if self.window is not None and not self.window > 0:
            raise ConfigError(f"Invalid preprocessing window {self.window!r}: must be > 0 seconds")
        if self.mel is not None:
            recipe = get_recipe(self.mel)
            object.__setattr__(self, "mel", recipe.to_dict())
            if self.sample_rate is None:
                object.__setattr__(self, "sample_rate", recipe.sample_rate)
            elif self.sample_rate != recipe.sample_rate:
                raise ConfigError(
                    f"preprocessing sample_rate {self.sample_rate} differs from the mel recipe's "
                    f"{recipe.sample_rate}"
                )

    @property
    def recipe(self) -> MelRecipe | None:
        """The mel recipe, or None for models without audio output."""
        return None if self.mel is None else MelRecipe.from_dict(self.mel)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (frame_size as [H, W]); :meth:`from_dict` restores an equal object."""
        data = dataclasses.asdict(self)
        data["frame_size"] = list(self.frame_size)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        """Inverse of :meth:`to_dict`; unknown keys raise ConfigError listing the known ones."""
        if not isinstance(data, dict):
            raise ConfigError(f"preprocessing must be a dict, got {type(data).__name__}")
        unknown = sorted(set(data) - _FIELDS)
        if unknown:
            raise ConfigError(
                f"Unknown preprocessing keys {unknown}. Supported: {', '.join(sorted(_FIELDS))}"
            )
        if "frame_size" not in data:
            raise ConfigError("preprocessing is missing required key 'frame_size'")
        return cls(**data)

    def check_compatible(self, overrides: dict[str, Any], source: str = "pipeline") -> Preprocessing:
        """Merge ``overrides`` (e.g. a pipeline file's preprocessing keys) into this one.

        A key that restates the bundle's value is fine; one that contradicts it raises
        ConfigError naming both values (``source`` names where the override came from).
        Only :data:`RUNTIME_KEYS` may differ. Returns the merged preprocessing.
        """
        unknown = sorted(set(overrides) - _FIELDS)
        if unknown:
            raise ConfigError(
                f"{source}: unknown preprocessing keys {unknown}. Supported: {', '.join(sorted(_FIELDS))}"
            )
        merged = dict(self.to_dict())
        for key, value in overrides.items():
            if key in RUNTIME_KEYS:
                merged[key] = value
            elif not _same(key, value, getattr(self, key)):
                raise ConfigError(
                    f"{source} sets {key}={_show(key, value)} but the bundle was trained with "
                    f"{key}={_show(key, getattr(self, key))}; remove the key or use a matching bundle"
                )
        return Preprocessing.from_dict(merged)


_FIELDS = {f.name for f in dataclasses.fields(Preprocessing)}


def _recipe_numbers(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    data = get_recipe(value).to_dict()
    data.pop("name")
    return data


def _same(key: str, new: Any, old: Any) -> bool:
    if key == "frame_size":
        return new is not None and list(new) == list(old)
    if key == "mel":
        return _recipe_numbers(new) == _recipe_numbers(old)
    if key == "fps" and new is not None and old is not None:
        return math.isclose(float(new), float(old), rel_tol=1e-9)
    return new == old


def _show(key: str, value: Any) -> str:
    if key == "mel" and value is not None:
        recipe = get_recipe(value)
        return (
            f"{recipe.name}({recipe.sample_rate} Hz, n_fft {recipe.n_fft}, hop {recipe.hop_length}, "
            f"{recipe.n_mels} mels)"
        )
    if key == "frame_size" and value is not None:
        return f"[H, W]={list(value)}"
    return repr(value)
