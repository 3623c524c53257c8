"""Load one clip the way a model expects it: frames per the preprocessing, log-mel target of its audio.

Both follow a :class:`~avseq.bundles.preprocessing.Preprocessing`, so training
data and inference inputs are prepared identically.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import torch

from avseq.bundles.preprocessing import Preprocessing
from avseq.errors import ConfigError
from avseq.types import Audio, Frames


def load_frames(path: str | Path, prep: Preprocessing) -> Frames:
    """Frames of ``path`` sampled per ``prep`` (fps or num_frames), fitted/resized to
    ``prep.frame_size``, as float (T, 3, H, W) in [0, 1] with pts in seconds.

    As in a pipeline, the decoder scales the frames to cover the frame size first (uint8, in
    swscale), so a 4K training clip costs what its frames at the model's size cost.
    """
    from avseq.io import decode_video
    from avseq.io.geometry import Cover
    from avseq.transforms import fit, resize, to_float

    stretch = prep.frame_transform == "resize"
    size = Cover((tuple(prep.frame_size),), stretch=stretch)
    frames = decode_video(path, fps=prep.fps, num_frames=prep.num_frames, size=size)
    shape = resize if stretch else fit
    return Frames(to_float(shape(frames.data, prep.frame_size)), frames.pts)


def clip_duration(path: str | Path, known: float | None = None) -> float:
    """Duration in seconds of the clip's video timeline (``known`` when given, else probed)."""
    if known is not None:
        return float(known)
    from avseq.io import probe

    duration = probe(path).video_duration
    if not duration:
        raise ConfigError(f"{path}: cannot tell the clip's duration; add 'duration' to its manifest line")
    return float(duration)


def align_to_video(audio: Audio, duration: float) -> torch.Tensor:
    """Mono wave (N,) on the video's timeline: sample 0 is at t = 0 and N = round(duration * sr).

    Audio that starts late is preceded by silence, audio that starts early is cut,
    and the end is trimmed or zero-padded to the video's duration.
    """
    sr = audio.sample_rate
    wave = audio.wave.mean(dim=0)
    offset = int(round(audio.start * sr))
    wave = torch.cat([wave.new_zeros(offset), wave]) if offset > 0 else wave[-offset:]
    n = int(math.floor(duration * sr + 0.5))
    return wave[:n] if wave.shape[0] >= n else torch.cat([wave, wave.new_zeros(n - wave.shape[0])])


@functools.lru_cache(maxsize=8)
def _log_mel(recipe_key: tuple) -> torch.nn.Module:
    from avseq.transforms import LogMel

    return LogMel(dict(recipe_key)).eval()


def load_target(path: str | Path, prep: Preprocessing, duration: float) -> torch.Tensor:
    """Log-mel (n_mels, T') of the clip's own audio track aligned to its video timeline.

    T' follows from ``duration`` (seconds): centred frames, ``round(duration * sr) // hop + 1``.
    """
    from avseq.io import decode_audio

    if prep.recipe is None:
        raise ConfigError("a sound target needs preprocessing.mel (a mel recipe); got none")
    audio = decode_audio(path, sample_rate=prep.recipe.sample_rate, channels=1)
    wave = align_to_video(audio, duration)
    with torch.no_grad():
        log_mel, _ = _log_mel(tuple(sorted(prep.mel.items())))(wave[None])
    return log_mel[0]
