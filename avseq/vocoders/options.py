"""The shipped vocoders' options and their registration, declared without torch.

A pipeline file's vocoder options are checked when it loads, which never imports torch
(:mod:`avseq.pipeline`); each vocoder's code is imported when one is built.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from avseq.vocoders.base import VOCODERS, VocoderType

PhaseInit = Literal["random", "zeros"]


class GriffinLimOptions(BaseModel):
    """n_iter: Griffin-Lim iterations; nnls_iter: projected-gradient steps refining the mel
    inversion; momentum: fast Griffin-Lim's, in [0, 1); init: the starting phase, "random"
    (drawn with ``seed``, deterministic) or "zeros"."""

    model_config = ConfigDict(extra="forbid")
    n_iter: int = Field(32, ge=0, le=1000)
    nnls_iter: int = Field(16, ge=0, le=1000)
    momentum: float = Field(0.99, ge=0, lt=1)
    init: str = "random"
    seed: int = 0

    @field_validator("init")
    @classmethod
    def _known_init(cls, init: str) -> str:
        if init not in get_args(PhaseInit):
            raise ValueError(f"Invalid Griffin-Lim init {init!r}. Supported: 'random', 'zeros'")
        return init


VOCODERS.register("griffin-lim")(
    VocoderType(GriffinLimOptions, "avseq.vocoders.griffin_lim:build_griffin_lim")
)
