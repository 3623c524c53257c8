"""The vocoder contract and registry: log-mel (B, n_mels, T) + lengths -> wave (B, N) + lengths.

A vocoder is any object with ``.sample_rate``, ``.recipe`` (the :class:`MelRecipe` whose
log-mels it inverts) and ``__call__(log_mel, lengths=None) -> (wave, wave_lengths)``.
Each is registered by name in :data:`VOCODERS` as a :class:`VocoderType`: the pydantic model
of its options and the function that builds it from a recipe and those options.
:func:`build_vocoder` is the one entry point: the pipeline's ``vocoder`` stage and the sound
evaluation both build through it, so registering is all a new vocoder needs.

Adding a neural vocoder (e.g. a HiFi-GAN trained on one recipe) later, in one file:

1. write an ``nn.Module`` that takes ``(log_mel, lengths)`` and returns ``(wave, lengths)``,
   with ``wave_lengths = num_samples(frame_lengths, recipe)`` so it lines up with Griffin-Lim;
2. declare its options (``class HifiGanOptions(BaseModel)``, extra keys forbidden), e.g. a
   ``checkpoint`` path to a local ``.safetensors`` file (read with
   ``safetensors.torch.load_file``; never ``torch.load``), and refuse a recipe other than the
   one the weights were trained on with a ``ConfigError``;
3. register it: ``VOCODERS.register("hifigan")(VocoderType(HifiGanOptions, build_hifigan))``
   and import the file in ``avseq/vocoders/__init__.py``. (The shipped vocoders register in
   :mod:`avseq.vocoders.options` with ``build`` as ``"module:function"``, so that loading a
   pipeline file checks their options without importing torch.) A pipeline file then says
   ``params: {name: hifigan, checkpoint: ...}``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ValidationError

from avseq.errors import ConfigError
from avseq.registry import Registry

if TYPE_CHECKING:
    import torch

    from avseq.transforms.recipes import MelRecipe


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


@dataclass(frozen=True)
class VocoderType:
    """A registered vocoder. options: the pydantic model of its options (extra keys forbidden,
    defaults the vocoder's own); build(recipe, options) -> Vocoder, or ``"module:function"``
    naming it (imported when a vocoder is first built)."""

    options: type[BaseModel]
    build: Callable[[MelRecipe, Any], Vocoder] | str

    def builder(self) -> Callable[[MelRecipe, Any], Vocoder]:
        if not isinstance(self.build, str):
            return self.build
        module, name = self.build.split(":")
        return getattr(importlib.import_module(module), name)


VOCODERS: Registry[VocoderType] = Registry("vocoder")


def vocoder_type(name: str) -> VocoderType:
    """The vocoder registered as ``name``; ``_`` may stand for ``-`` (pipeline files write
    ``griffin_lim`` for ``griffin-lim``). An unknown name raises the registry's error listing
    the registered ones."""
    return VOCODERS.get(name.replace("_", "-"))


def check_options(model: type[BaseModel], options: dict[str, Any], what: str) -> BaseModel:
    """``options`` validated by ``model``; a bad key or value raises ConfigError naming ``what``
    and each problem."""
    try:
        return model.model_validate(options)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'options'}: {e['msg']} (got {e['input']!r})"
            for e in err.errors()
        )
        raise ConfigError(f"{what}: {problems}") from None


def build_vocoder(name: str, recipe: MelRecipe | str | dict[str, Any], **options: Any) -> Vocoder:
    """Build the vocoder registered as ``name`` for ``recipe`` with ``options`` (checked by its
    options model); an unknown name or a bad option raises ConfigError."""
    from avseq.transforms.recipes import get_recipe

    vocoder = vocoder_type(name)
    return vocoder.builder()(get_recipe(recipe), check_options(vocoder.options, options, f"vocoder {name!r}"))
