"""Vocoders: log-mel (B, n_mels, T) + lengths -> wave (B, N) + lengths. Griffin-Lim first."""

from avseq.vocoders.base import VOCODERS, Vocoder, build_vocoder
from avseq.vocoders.griffin_lim import GriffinLim, griffin_lim, mel_to_linear

__all__ = ["VOCODERS", "GriffinLim", "Vocoder", "build_vocoder", "griffin_lim", "mel_to_linear"]
