"""The learning core: frame encoders, LSTM sequence models, tokenizer, beam search, systems.

Stable names other packages use (see docs/architecture.md):

- encoders: ``ENCODERS``, ``build_encoder(name, weights=, frozen=, chunk_size=, motion=,
  frame_stride=, **options)``, ``FrameEncoder``, ``ConcatEncoder`` (several side by side)
- models: ``SoundModel`` + ``sound_loss``, ``Captioner`` + ``caption_loss``, ``ClipClassifier``,
  ``FrameToCaption``; decoding: ``Hypothesis``, ``greedy_decode``, ``beam_search``
- ``Tokenizer`` with ``PAD_ID BOS_ID EOS_ID UNK_ID``
- systems: ``build_system(config)``, ``SoundSystem``, ``CaptionSystem``, ``ClassifySystem``,
  ``FrameCaptionSystem``
"""

from avseq.models.beam import Hypothesis, beam_search, greedy_decode
from avseq.models.captioner import Captioner, caption_loss, word_loss
from avseq.models.classifier import ClipClassifier
from avseq.models.encoders import ENCODERS, ConcatEncoder, FrameEncoder, build_encoder
from avseq.models.frame_caption import FrameToCaption
from avseq.models.sound import SoundModel, mel_lengths, onset_strength, sound_loss
from avseq.models.systems import (
    SYSTEMS,
    CaptionSystem,
    ClassifySystem,
    FrameCaptionSystem,
    SoundSystem,
    build_system,
)
from avseq.models.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Tokenizer, split_words

__all__ = [
    "BOS_ID",
    "ENCODERS",
    "EOS_ID",
    "PAD_ID",
    "SYSTEMS",
    "UNK_ID",
    "CaptionSystem",
    "Captioner",
    "ClassifySystem",
    "ClipClassifier",
    "FrameCaptionSystem",
    "ConcatEncoder",
    "FrameEncoder",
    "FrameToCaption",
    "Hypothesis",
    "SoundModel",
    "SoundSystem",
    "Tokenizer",
    "beam_search",
    "build_encoder",
    "build_system",
    "caption_loss",
    "word_loss",
    "greedy_decode",
    "mel_lengths",
    "onset_strength",
    "sound_loss",
    "split_words",
]
