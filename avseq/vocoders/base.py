"""The vocoder contract and registry: log-mel (B, n_mels, T) + lengths -> wave (B, N) + lengths.

A vocoder is any object with ``.sample_rate``, ``.recipe`` (the :class:`MelRecipe` whose
log-mels it inverts) and ``__call__(log_mel, lengths=None) -> (wave, wave_lengths)``.
Builders are registered by name in :data:`VOCODERS` and called as
``builder(recipe, **kwargs)``; :func:`build_vocoder` is the one entry point.

Adding a neural vocoder (e.g. a HiFi-GAN trained on one recipe) later:

1. write an ``nn.Module`` that takes ``(log_mel, lengths)`` and returns ``(wave, lengths)``,
   with ``wave_lengths = num_samples(frame_lengths, recipe)`` so it lines up with Griffin-Lim;
2. give its builder a ``checkpoint`` argument pointing at a local ``.safetensors`` file
   (read with ``safetensors.torch.load_file``; never ``torch.load``) plus the recipe the
   weights were trained on, and refuse a mismatched recipe with a ``ConfigError``;
3. register it: ``@VOCODERS.register("hifigan") def build_hifigan(recipe, checkpoint): ...``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import torch

from avseq.errors import ConfigError
from avseq.registry import Registry
from avseq.transforms.mel import MelRecipe, get_recipe


@runtime_checkable
class Vocoder(Protocol):
    """log-mel -> waveform. ``lengths`` are valid frames per item; None means all frames."""

    sample_rate: int
    recipe: MelRecipe

    def __call__(
        self, log_mel: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """log_mel (B, n_mels, T), lengths (B,) -> wave (B, N) float, wave_lengths (B,) int64."""
        ...


VOCODERS: Registry[Callable[..., Vocoder]] = Registry("vocoder")


def build_vocoder(name: str, recipe: MelRecipe | str | dict[str, Any], **kwargs: Any) -> Vocoder:
    """Build the vocoder registered as ``name`` for ``recipe``; unknown names raise ConfigError."""
    if name not in VOCODERS:
        raise ConfigError(f"Unknown vocoder {name!r}. Supported: {', '.join(VOCODERS.list())}")
    return VOCODERS.get(name)(get_recipe(recipe), **kwargs)
