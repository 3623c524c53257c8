"""The learning core: frame encoders, LSTM sequence models, tokenizer, beam search, systems.

Stable names other packages use (see docs/architecture.md):

- encoders: ``ENCODERS``, ``build_encoder(name, weights=, frozen=, chunk_size=, motion=,
  frame_stride=, **options)``, ``FrameEncoder``, ``ConcatEncoder`` (several side by side);
  ``GroundedEncoder`` (:mod:`avseq.models.grounding`: finds the acting object, describes a window
  around it; ``{"name": "grounded", ...}`` in a system's encoder list)
- models: ``SoundModel`` + ``sound_loss``, ``Captioner`` + ``caption_loss``, ``ClipClassifier``,
  ``FrameToCaption``, ``DenseCaptioner`` (a captioner with an event-proposal head; its span
  functions in :mod:`avseq.models.proposals`); decoding: ``Hypothesis``, ``greedy_decode``, ``beam_search``
- ``Tokenizer`` with ``PAD_ID BOS_ID EOS_ID UNK_ID``
- systems: ``build_system(config)``, ``SoundSystem``, ``CaptionSystem``, ``DenseCaptionSystem``,
  ``ClassifySystem``, ``FrameCaptionSystem``
"""

from avseq.lazy import lazy_package

_EXPORTS = {
    "Hypothesis": "avseq.models.beam",
    "beam_search": "avseq.models.beam",
    "greedy_decode": "avseq.models.beam",
    "Captioner": "avseq.models.captioner",
    "caption_loss": "avseq.models.captioner",
    "word_loss": "avseq.models.captioner",
    "ClipClassifier": "avseq.models.classifier",
    "ENCODERS": "avseq.models.encoders",
    "ConcatEncoder": "avseq.models.encoders",
    "FrameEncoder": "avseq.models.encoders",
    "build_encoder": "avseq.models.encoders",
    "FrameToCaption": "avseq.models.frame_caption",
    "GroundedEncoder": "avseq.models.grounding",
    "SoundModel": "avseq.models.sound",
    "mel_lengths": "avseq.models.sound",
    "onset_strength": "avseq.models.sound",
    "sound_loss": "avseq.models.sound",
    "SYSTEMS": "avseq.models.systems",
    "CaptionSystem": "avseq.models.systems",
    "ClassifySystem": "avseq.models.systems",
    "FrameCaptionSystem": "avseq.models.systems",
    "DenseCaptionSystem": "avseq.models.systems",
    "DenseCaptioner": "avseq.models.dense",
    "SoundSystem": "avseq.models.systems",
    "build_system": "avseq.models.systems",
    "BOS_ID": "avseq.models.tokenizer",
    "EOS_ID": "avseq.models.tokenizer",
    "PAD_ID": "avseq.models.tokenizer",
    "UNK_ID": "avseq.models.tokenizer",
    "Tokenizer": "avseq.models.tokenizer",
    "split_words": "avseq.models.tokenizer",
}
__all__ = lazy_package(__name__, _EXPORTS)
