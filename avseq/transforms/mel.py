"""Log-mel spectrograms as pure functions of a recipe (:mod:`avseq.transforms.recipes`):
:func:`mel_spectrogram`, :func:`to_log`, :func:`from_log`, :func:`num_frames`; :class:`LogMel`
is the thin ``nn.Module`` around them. Items of a padded batch are reflect-padded at their own
end, so each item gets exactly the frames it would get alone.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
import torch.nn.functional as F
import torchaudio
from torch import nn

from avseq.transforms.recipes import (  # noqa: F401  (MEL_RECIPES and the presets are re-exported)
    _SPECVQGAN_MIN_DB,
    _SPECVQGAN_REF_DB,
    DEFAULT,
    DIFF_FOLEY,
    MEL_RECIPES,
    SPECVQGAN,
    MelRecipe,
    get_recipe,
)


def num_frames(n_samples: int | torch.Tensor, recipe: MelRecipe) -> int | torch.Tensor:
    """STFT frame count for ``n_samples`` samples: ``(n + 2 * pad - n_fft) // hop + 1`` with the
    recipe's ``stft_padding``, and 0 for an empty wave or one too short for a frame.

    "center" framing (even n_fft): ``n // hop + 1``; "hifigan": ``n // hop``. Works on ints and on
    int64 tensors of lengths (elementwise).
    """
    span = 2 * recipe.stft_padding - recipe.n_fft
    if isinstance(n_samples, torch.Tensor):
        count = torch.div(n_samples + span, recipe.hop_length, rounding_mode="floor") + 1
        return torch.where((n_samples > 0) & (n_samples + span >= 0), count, 0)
    return (n_samples + span) // recipe.hop_length + 1 if n_samples > 0 and n_samples + span >= 0 else 0


def num_samples(n_frames: int | torch.Tensor, recipe: MelRecipe) -> int | torch.Tensor:
    """Wave length in samples that a vocoder makes from ``n_frames`` frames: ``(n - 1) * hop``.

    That is the centred-framing length Griffin-Lim makes for every recipe; a wave of that length
    has ``n_frames`` frames only under "center" framing ("hifigan" framing: ``n * hop``).
    """
    if isinstance(n_frames, torch.Tensor):
        return (n_frames - 1).clamp(min=0) * recipe.hop_length
    return max(n_frames - 1, 0) * recipe.hop_length


@functools.lru_cache(maxsize=32)
def _filterbank_cpu(recipe: MelRecipe) -> torch.Tensor:
    f_min, f_max = recipe.band
    return torchaudio.functional.melscale_fbanks(
        recipe.n_freqs, f_min, f_max, recipe.n_mels, recipe.sample_rate, recipe.norm, recipe.mel_scale
    )


def mel_filterbank(recipe: MelRecipe, device: torch.device | str = "cpu") -> torch.Tensor:
    """The mel filterbank, (n_freqs, n_mels) float32, equal to ``librosa.filters.mel(...).T``."""
    return _filterbank_cpu(recipe).to(device)


def stft_window(recipe: MelRecipe, device: torch.device | str = "cpu") -> torch.Tensor:
    """The periodic Hann analysis window, (window_length,) float32."""
    return torch.hann_window(recipe.window_length, device=device)


def reflect_index(lengths: torch.Tensor, n: int, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gather indices and keep-mask that reflect-pad each item at its own ends.

    lengths: (B,) valid samples of a (B, n) batch. Returns index (B, n + 2 * pad) int64 and
    keep (B, n + 2 * pad) bool; see :func:`pad_reflect`. Compute once, reuse per call.
    """
    lengths = lengths.view(-1, 1)
    pos = torch.arange(-pad, n + pad, device=lengths.device).view(1, -1)
    src = pos.abs()
    src = torch.where(src >= lengths, 2 * (lengths - 1) - src, src)
    src = torch.minimum(src.clamp(min=0), (lengths - 1).clamp(min=0))
    return src, pos < lengths + pad


def pad_reflect(
    wave: torch.Tensor, lengths: torch.Tensor | None, pad: int, index: tuple | None = None
) -> torch.Tensor:
    """Reflect-pad each item by ``pad`` samples at both ends of its own valid part.

    wave: (B, N) zero-padded batch; lengths: (B,) valid samples (None = all N); index:
    optional precomputed :func:`reflect_index`. Returns (B, N + 2 * pad); samples past
    each item's reflected end are zero. Items shorter than ``pad + 1`` samples repeat
    their edge sample where a reflection would run off the item.
    """
    b, n = wave.shape
    full = lengths is None or bool((lengths == n).all())
    if full and n > pad and index is None:
        return F.pad(wave.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    if lengths is None:
        lengths = torch.full((b,), n, dtype=torch.int64)
    src, keep = index if index is not None else reflect_index(lengths.to(wave.device), n, pad)
    return torch.gather(wave, 1, src.expand(b, -1)) * keep


def _magnitude(padded: torch.Tensor, recipe: MelRecipe, window: torch.Tensor) -> torch.Tensor:
    """(B, N + 2 * pad) reflect-padded wave -> STFT magnitudes (B, n_freqs, T), raised to ``power``."""
    spec = torch.stft(
        padded,
        recipe.n_fft,
        recipe.hop_length,
        recipe.window_length,
        window,
        center=False,
        return_complex=True,
    )
    if recipe.magnitude_eps:
        mag = (spec.real.square() + spec.imag.square() + recipe.magnitude_eps).sqrt()
    else:
        mag = spec.abs()
    return mag.pow(recipe.power) if recipe.power != 1.0 else mag


def _mel(
    wave: torch.Tensor,
    lengths: torch.Tensor | None,
    recipe: MelRecipe,
    window: torch.Tensor,
    fb: torch.Tensor,
) -> torch.Tensor:
    """The linear mel of a checked (B, N) wave with the given window and (n_freqs, n_mels) filterbank."""
    b, n = wave.shape
    if num_frames(n, recipe) == 0:
        return wave.new_zeros((b, recipe.n_mels, 0))
    spec = _magnitude(pad_reflect(wave, lengths, recipe.stft_padding), recipe, window.to(wave.dtype))
    mel = torch.matmul(spec.transpose(1, 2), fb.to(spec.dtype)).transpose(1, 2)
    if lengths is not None:
        mel = mel * frame_mask(num_frames(lengths.to(wave.device), recipe), mel.shape[-1])
    return mel


def _check_wave(wave: torch.Tensor) -> torch.Tensor:
    if wave.dim() == 1:
        wave = wave.unsqueeze(0)
    if wave.dim() != 2:
        raise ValueError(f"wave must be (B, N) or (N,), got shape {tuple(wave.shape)}")
    if not wave.is_floating_point():
        raise ValueError(f"wave must be a float tensor, got dtype {wave.dtype}")
    return wave


def frame_mask(frame_lengths: torch.Tensor, total: int) -> torch.Tensor:
    """(B, 1, total) float mask: 1 on each item's valid frames, 0 on padding."""
    t = torch.arange(total, device=frame_lengths.device)
    return (t.view(1, 1, -1) < frame_lengths.view(-1, 1, 1)).float()


def mel_spectrogram(
    wave: torch.Tensor, recipe: MelRecipe, lengths: torch.Tensor | None = None
) -> torch.Tensor:
    """Linear mel spectrogram (magnitude or power per ``recipe.power``).

    wave: (B, N) or (N,) float; lengths: optional (B,) valid samples per item.
    Returns (B, n_mels, T') with T' = ``num_frames(N, recipe)``; frames past an item's
    own count are zero.
    """
    wave = _check_wave(wave)
    return _mel(wave, lengths, recipe, stft_window(recipe, wave.device), mel_filterbank(recipe, wave.device))


def to_log(mel: torch.Tensor, recipe: MelRecipe) -> torch.Tensor:
    """Log-compress (and normalize) a linear mel spectrogram per the recipe. Any shape."""
    x = mel.clamp(min=recipe.floor)
    if recipe.log == "db20":
        out = 20.0 * torch.log10(x)
    elif recipe.log == "db10":
        out = 10.0 * torch.log10(x)
    elif recipe.log == "log10":
        out = torch.log10(x)
    else:
        out = torch.log(x)
    if recipe.normalize == "specvqgan":
        out = ((out - _SPECVQGAN_REF_DB - _SPECVQGAN_MIN_DB) / -_SPECVQGAN_MIN_DB).clamp(0.0, 1.0)
    return out


def from_log(log_mel: torch.Tensor, recipe: MelRecipe) -> torch.Tensor:
    """Undo :func:`to_log`: the linear mel spectrogram (values below ``floor`` come back as ``floor``).

    For "specvqgan" the [0, 1] clip is lossy: 0 maps back to -80 dB.
    """
    x = log_mel
    if recipe.normalize == "specvqgan":
        x = x * -_SPECVQGAN_MIN_DB + _SPECVQGAN_MIN_DB + _SPECVQGAN_REF_DB
    if recipe.log == "db20":
        return torch.pow(10.0, x / 20.0)
    if recipe.log == "db10":
        return torch.pow(10.0, x / 10.0)
    if recipe.log == "log10":
        return torch.pow(10.0, x)
    return torch.exp(x)


class LogMel(nn.Module):
    """Wave -> log-mel per a recipe: :func:`mel_spectrogram` then :func:`to_log`.

    ``forward(wave (B, N), lengths (B,) | None) -> (log_mel (B, n_mels, T'), frame_lengths (B,))``.
    Padded frames hold zeros. Runs (in float32) on the device the module was moved to; the
    window and filterbank are non-persistent buffers (the recipe decides them).
    """

    def __init__(self, recipe: MelRecipe | str | dict[str, Any]) -> None:
        super().__init__()
        self.recipe = get_recipe(recipe)
        self.register_buffer("window", stft_window(self.recipe), persistent=False)
        self.register_buffer("fb", mel_filterbank(self.recipe).clone(), persistent=False)

    @property
    def frame_rate(self) -> float:
        """Output frames per second."""
        return self.recipe.frame_rate

    def forward(
        self, wave: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        wave = _check_wave(wave).float()
        if lengths is None:
            lengths = torch.full((wave.shape[0],), wave.shape[1], dtype=torch.int64)
        lengths = lengths.to(wave.device)
        log_mel = to_log(_mel(wave, lengths, self.recipe, self.window, self.fb), self.recipe)
        frame_lengths = num_frames(lengths, self.recipe)
        return log_mel * frame_mask(frame_lengths, log_mel.shape[-1]), frame_lengths

    def extra_repr(self) -> str:
        return f"recipe={self.recipe.name!r}, frame_rate={self.recipe.frame_rate:g}"


def duration_frames(seconds: float, recipe: MelRecipe) -> int:
    """Frames covering ``seconds`` of audio: ``num_frames(round(s * sr))``."""
    return int(num_frames(int(math.floor(seconds * recipe.sample_rate + 0.5)), recipe))
