"""Vocoders: log-mel (B, n_mels, T) + lengths -> wave (B, N) + lengths. Griffin-Lim first.

The registry and the vocoders' options load without torch; the vocoders themselves on first use.
"""

import avseq.vocoders.options  # noqa: F401  (registers the shipped vocoders)
from avseq.lazy import lazy_package

_EXPORTS = {
    "VOCODERS": "avseq.vocoders.base",
    "Vocoder": "avseq.vocoders.base",
    "VocoderType": "avseq.vocoders.base",
    "build_vocoder": "avseq.vocoders.base",
    "vocoder_type": "avseq.vocoders.base",
    "GriffinLimOptions": "avseq.vocoders.options",
    "GriffinLim": "avseq.vocoders.griffin_lim",
    "griffin_lim": "avseq.vocoders.griffin_lim",
    "mel_to_linear": "avseq.vocoders.griffin_lim",
}
__all__ = lazy_package(__name__, _EXPORTS)
