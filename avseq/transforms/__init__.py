"""Pure tensor transforms and thin modules: frames (resize / crop / to_float) and log-mel recipes.

Names are imported on first use: the mel recipes (:mod:`avseq.transforms.recipes`) are read
when a pipeline loads, which never imports torch.
"""

from avseq.lazy import lazy_package

_FRAMES = ("CenterCrop", "Fit", "Resize", "ToFloat", "center_crop", "fit", "resize", "to_float")
_RECIPES = ("MEL_RECIPES", "MelRecipe", "get_recipe")
_MEL = ("LogMel", "duration_frames", "from_log", "mel_filterbank", "mel_spectrogram", "num_frames",
        "num_samples", "to_log")  # fmt: skip
_EXPORTS = {
    **dict.fromkeys(_FRAMES, "avseq.transforms.frames"),
    **dict.fromkeys(_RECIPES, "avseq.transforms.recipes"),
    **dict.fromkeys(_MEL, "avseq.transforms.mel"),
}
__all__ = lazy_package(__name__, _EXPORTS)
