"""Caption, dense (timed) caption, attribute, audio and audio-visual sync metrics."""

from avseq.metrics.attributes import attribute_accuracy
from avseq.metrics.audio import (
    OnsetScores,
    detect_onsets,
    log_spectral_distance,
    mel_l1,
    onset_f1,
    sync_offset,
)
from avseq.metrics.captions import CAPTION_METRICS, caption_scores, java_available, meteor_session
from avseq.metrics.dense import TIOU_THRESHOLDS, dense_caption_scores, tiou

__all__ = [
    "CAPTION_METRICS",
    "OnsetScores",
    "TIOU_THRESHOLDS",
    "attribute_accuracy",
    "caption_scores",
    "dense_caption_scores",
    "detect_onsets",
    "java_available",
    "log_spectral_distance",
    "mel_l1",
    "meteor_session",
    "onset_f1",
    "sync_offset",
    "tiou",
]
