"""Pure tensor transforms and thin modules: frames (resize / crop / to_float) and log-mel recipes."""

from avseq.transforms.frames import CenterCrop, Fit, Resize, ToFloat, center_crop, fit, resize, to_float
from avseq.transforms.mel import (
    MEL_RECIPES,
    LogMel,
    MelRecipe,
    duration_frames,
    from_log,
    get_recipe,
    mel_filterbank,
    mel_spectrogram,
    num_frames,
    num_samples,
    to_log,
)

__all__ = [
    "MEL_RECIPES",
    "CenterCrop",
    "Fit",
    "LogMel",
    "MelRecipe",
    "Resize",
    "ToFloat",
    "center_crop",
    "duration_frames",
    "fit",
    "from_log",
    "get_recipe",
    "mel_filterbank",
    "mel_spectrogram",
    "num_frames",
    "num_samples",
    "resize",
    "to_float",
    "to_log",
]
