"""Vocoders: log-mel (B, n_mels, T) + lengths -> wave (B, N) + lengths. Griffin-Lim first."""

from avseq.vocoders.base import VOCODERS, Vocoder, VocoderType, build_vocoder, vocoder_type
from avseq.vocoders.griffin_lim import GriffinLim, GriffinLimOptions, griffin_lim, mel_to_linear

__all__ = [
    "VOCODERS",
    "GriffinLim",
    "GriffinLimOptions",
    "Vocoder",
    "VocoderType",
    "build_vocoder",
    "griffin_lim",
    "mel_to_linear",
    "vocoder_type",
]
