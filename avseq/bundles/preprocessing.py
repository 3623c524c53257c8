"""The preprocessing a bundle's weights were trained with, and the check that a pipeline agrees.

A pipeline that runs a bundle takes these values from it. A pipeline file may restate
them; :meth:`Preprocessing.check_compatible` refuses any value that contradicts the
bundle, naming both.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

from avseq.errors import ConfigError
from avseq.io.sampling import check_sampling, same_rate
from avseq.transforms.recipes import MelRecipe, get_recipe

FrameTransform = Literal["fit", "resize"]
# Keys that bundle.json files written before they were dropped may carry: read and ignored
# (the audio rate is the mel recipe's; windows are a pipeline's choice).
RETIRED_KEYS = ("sample_rate", "window", "extra")


@dataclass(frozen=True)
class Preprocessing:
    """How inputs must be prepared for a model.

    Attributes:
        fps: frames sampled per second of video (exactly one of ``fps`` / ``num_frames``).
        num_frames: or N frames sampled uniformly over the clip.
        frame_size: (H, W) of the frames the encoder sees.
        frame_transform: "fit" (cover (H, W) keeping aspect, then center-crop) or "resize" (stretch).
        mel: the mel recipe dict (sound models; None for captioners); its ``sample_rate`` is
            the audio's.
    """

    frame_size: tuple[int, int]
    fps: float | None = None
    num_frames: int | None = None
    frame_transform: FrameTransform = "fit"
    mel: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        size = tuple(self.frame_size) if isinstance(self.frame_size, (list, tuple)) else ()
        if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
            raise ConfigError(
                f"Invalid preprocessing frame_size {self.frame_size!r}: need [H, W] positive ints"
            )
        object.__setattr__(self, "frame_size", size)
        try:
            check_sampling(self.fps, self.num_frames, required=True)
        except ValueError as err:
            raise ConfigError(
                f"Invalid preprocessing sampling (exactly one of fps / num_frames): {err}"
            ) from None
        if self.frame_transform not in get_args(FrameTransform):
            raise ConfigError(
                f"Invalid preprocessing frame_transform {self.frame_transform!r}. "
                f"Supported: {', '.join(get_args(FrameTransform))}"
            )
        if self.mel is not None:
            object.__setattr__(self, "mel", get_recipe(self.mel).to_dict())

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
        """Inverse of :meth:`to_dict`; unknown keys raise ConfigError listing the known ones.
        :data:`RETIRED_KEYS`, which older bundle.json files carry, are read and ignored."""
        if not isinstance(data, dict):
            raise ConfigError(f"preprocessing must be a dict, got {type(data).__name__}")
        data = {k: v for k, v in data.items() if k not in RETIRED_KEYS}
        unknown = sorted(set(data) - _FIELDS)
        if unknown:
            raise ConfigError(
                f"Unknown preprocessing keys {unknown}. Supported: {', '.join(sorted(_FIELDS))}"
            )
        if "frame_size" not in data:
            raise ConfigError("preprocessing is missing required key 'frame_size'")
        return cls(**data)

    def check_compatible(self, overrides: dict[str, Any], source: str = "pipeline") -> Preprocessing:
        """Check ``overrides`` (e.g. a pipeline file's preprocessing keys) against this one.

        A key that restates the bundle's value is fine; one that contradicts it raises
        ConfigError naming both values (``source`` names where the override came from).
        Returns this preprocessing.
        """
        unknown = sorted(set(overrides) - _FIELDS)
        if unknown:
            raise ConfigError(
                f"{source}: unknown preprocessing keys {unknown}. Supported: {', '.join(sorted(_FIELDS))}"
            )
        for key, value in overrides.items():
            if not _same(key, value, getattr(self, key)):
                raise ConfigError(
                    f"{source} sets {key}={_show(key, value)} but the bundle was trained with "
                    f"{key}={_show(key, getattr(self, key))}; remove the key or use a matching bundle"
                )
        return self


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
        return same_rate(float(new), float(old))
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
