"""Log-mel spectrogram recipes: one frozen record per way of turning a wave into a log-mel.

A :class:`MelRecipe` names every choice that changes the numbers (sample rate, STFT
size and framing, filterbank, log scaling, normalization), so a trained model can carry the
exact recipe it was trained on. The math lives in pure functions (:func:`mel_spectrogram`,
:func:`to_log`, :func:`from_log`, :func:`num_frames`); :class:`LogMel` is the thin
``nn.Module`` around them. ``tests/transforms/test_mel_parity.py`` checks each preset against
its paper's own code, from a stereo file on (decoding to mono is the channel mean, as those
recipes take it: see :mod:`avseq.io.resample`).

Framing (``MelRecipe.framing``) uses a periodic Hann window and reflect padding:

- "center": librosa's ``center=True, pad_mode="reflect"`` (the default of the librosa 0.8
  that SpecVQGAN and Diff-Foley pinned; librosa >= 0.10 defaults to "constant"): frame
  ``t`` is centred on sample ``t * hop_length`` and ``N`` samples give ``N // hop_length + 1``
  frames (even ``n_fft``).
- "hifigan": HiFi-GAN's framing, which MMAudio's mel converter keeps: ``(n_fft - hop) // 2``
  reflect padding at each end, then uncentred frames; frame ``t`` is centred on sample
  ``t * hop_length + hop_length / 2`` and ``N`` samples give ``N // hop_length`` frames.

Items of a padded batch are reflect-padded at their own end, so each item gets exactly the
frames it would get alone.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, get_args

import torch
import torch.nn.functional as F
import torchaudio
from torch import nn

from avseq.errors import ConfigError
from avseq.registry import Registry

LogKind = Literal["db20", "db10", "ln", "log10"]
NormalizeKind = Literal["specvqgan"]
MelScaleKind = Literal["slaney", "htk"]
MelNormKind = Literal["slaney"]
FramingKind = Literal["center", "hifigan"]

# SpecVQGAN / RegNet / Diff-Foley map 20*log10(mel) to [0, 1] as clip((dB - 20 + 100) / 100, 0, 1).
_SPECVQGAN_REF_DB = 20.0
_SPECVQGAN_MIN_DB = -100.0


def _choice(field: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        shown = ", ".join(repr(a) for a in allowed)
        raise ConfigError(f"Invalid mel recipe {field} {value!r}. Supported: {shown}")


@dataclass(frozen=True)
class MelRecipe:
    """Everything that decides the numbers of a log-mel spectrogram.

    Attributes:
        name: label of the recipe ("custom" when built by hand).
        sample_rate: Hz of the input wave.
        n_fft, hop_length, win_length: STFT sizes in samples (``win_length`` None = ``n_fft``).
        n_mels, f_min, f_max: mel filterbank (``f_max`` None = Nyquist), ``mel_scale`` and
            ``norm`` as in librosa / torchaudio ("slaney" area normalization or None).
        power: 1.0 = mel of STFT magnitudes, 2.0 = mel of power.
        log: "db20" = 20*log10(max(x, floor)), "db10" = 10*log10(...), "ln" = natural log,
            "log10" = log10(max(x, floor)).
        floor: the amin clamp applied before the log.
        normalize: None, or "specvqgan" = clip((db20 - 20 + 100) / 100, 0, 1) (needs log="db20").
        framing: "center" or "hifigan" (see the module docstring).
        magnitude_eps: STFT magnitudes are ``sqrt(re^2 + im^2 + magnitude_eps)`` (MMAudio: 1e-9).
    """

    name: str
    sample_rate: int
    n_fft: int
    hop_length: int
    n_mels: int
    win_length: int | None = None
    f_min: float = 0.0
    f_max: float | None = None
    power: float = 1.0
    mel_scale: MelScaleKind = "slaney"
    norm: MelNormKind | None = "slaney"
    log: LogKind = "ln"
    floor: float = 1e-5
    normalize: NormalizeKind | None = None
    framing: FramingKind = "center"
    magnitude_eps: float = 0.0

    def __post_init__(self) -> None:
        for key in ("sample_rate", "n_fft", "hop_length", "n_mels"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"Invalid mel recipe {key} {value!r}: must be a positive integer")
        win = self.win_length if self.win_length is not None else self.n_fft
        if not 0 < win <= self.n_fft:
            raise ConfigError(f"Invalid mel recipe win_length {win!r}: must be in 1..n_fft={self.n_fft}")
        f_max = self.f_max if self.f_max is not None else self.sample_rate / 2
        if not 0 <= self.f_min < f_max <= self.sample_rate / 2:
            raise ConfigError(
                f"Invalid mel recipe band f_min={self.f_min} f_max={f_max}: "
                f"need 0 <= f_min < f_max <= sample_rate/2={self.sample_rate / 2:g}"
            )
        _choice("power", self.power, (1.0, 2.0))
        _choice("mel_scale", self.mel_scale, get_args(MelScaleKind))
        _choice("norm", self.norm, (*get_args(MelNormKind), None))
        _choice("log", self.log, get_args(LogKind))
        _choice("normalize", self.normalize, (*get_args(NormalizeKind), None))
        _choice("framing", self.framing, get_args(FramingKind))
        if self.framing == "hifigan" and self.hop_length > self.n_fft:
            raise ConfigError(
                f"Invalid mel recipe hop_length {self.hop_length}: framing='hifigan' needs "
                f"hop_length <= n_fft={self.n_fft}"
            )
        if not self.magnitude_eps >= 0:
            raise ConfigError(f"Invalid mel recipe magnitude_eps {self.magnitude_eps!r}: must be >= 0")
        if self.floor <= 0:
            raise ConfigError(f"Invalid mel recipe floor {self.floor!r}: must be > 0")
        if self.normalize == "specvqgan" and self.log != "db20":
            raise ConfigError(f"mel recipe normalize='specvqgan' needs log='db20', got log={self.log!r}")

    @property
    def frame_rate(self) -> float:
        """Spectrogram frames per second (= sample_rate / hop_length)."""
        return self.sample_rate / self.hop_length

    @property
    def stft_padding(self) -> int:
        """Reflect padding in samples at each end of the wave before the uncentred STFT."""
        if self.framing == "center":
            return self.n_fft // 2
        return (self.n_fft - self.hop_length) // 2

    @property
    def frame_offset(self) -> float:
        """Seconds from the first sample to the centre of frame 0 (0 for "center" framing)."""
        return (self.n_fft / 2 - self.stft_padding) / self.sample_rate

    @property
    def n_freqs(self) -> int:
        """STFT bins (= n_fft // 2 + 1)."""
        return self.n_fft // 2 + 1

    @property
    def window_length(self) -> int:
        """Analysis window length in samples (win_length, or n_fft when unset)."""
        return self.win_length if self.win_length is not None else self.n_fft

    @property
    def band(self) -> tuple[float, float]:
        """(f_min, f_max) in Hz with f_max resolved to Nyquist when unset."""
        return float(self.f_min), float(self.f_max if self.f_max is not None else self.sample_rate / 2)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` turns it back into an equal recipe."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MelRecipe:
        """Build a recipe from :meth:`to_dict` output; unknown keys raise ConfigError naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"Unknown mel recipe keys {unknown}. Supported: {', '.join(sorted(known))}")
        missing = sorted(k for k in ("sample_rate", "n_fft", "hop_length", "n_mels") if k not in data)
        if missing:
            raise ConfigError(f"mel recipe is missing required keys {missing}")
        return cls(**{"name": "custom", **data})


MEL_RECIPES: Registry[MelRecipe] = Registry("mel recipe")


def _preset(recipe: MelRecipe) -> MelRecipe:
    return MEL_RECIPES.register(recipe.name)(recipe)


DEFAULT = _preset(
    MelRecipe("default", 16000, n_fft=512, hop_length=160, n_mels=64, f_min=0.0, f_max=8000.0, log="ln")
)
"""avseq's small CPU recipe: 16 kHz, n_fft 512 (32 ms), hop 160 (100 frames/s), 64 slaney mels
0-8 kHz on magnitudes, natural log with a 1e-5 floor."""

SPECVQGAN = _preset(
    MelRecipe(
        "specvqgan", 22050, n_fft=1024, hop_length=256, n_mels=80, f_min=125.0, f_max=7600.0,
        log="db20", floor=1e-5, normalize="specvqgan",
    )
)  # fmt: skip
"""SpecVQGAN (Iashin & Rahtu 2021, ``feature_extraction/extract_mel_spectrogram.py``), which
follows RegNet: 22050 Hz, n_fft 1024, hop 256 (~86.1 frames/s), 80 librosa (slaney) mels
125-7600 Hz on STFT magnitudes, 20*log10(max(x, 1e-5)), then clip((dB - 20 + 100) / 100, 0, 1)."""

DIFF_FOLEY = _preset(
    MelRecipe(
        "diff-foley", 16000, n_fft=1024, hop_length=256, n_mels=128, f_min=125.0, f_max=7600.0,
        log="db20", floor=1e-5, normalize="specvqgan",
    )
)  # fmt: skip
"""Diff-Foley (Luo et al. 2023, ``data_preprocess/wav2spec.py``): the SpecVQGAN chain at 16 kHz
with 128 mels: n_fft 1024, hop 256 (62.5 frames/s), slaney mels 125-7600 Hz on magnitudes,
20*log10 with a 1e-5 floor and the SpecVQGAN [0, 1] mapping."""

MMAUDIO_16K = _preset(
    MelRecipe(
        "mmaudio-16k", 16000, n_fft=1024, hop_length=256, n_mels=80, f_min=0.0, f_max=8000.0,
        log="log10", floor=1e-5, framing="hifigan", magnitude_eps=1e-9,
    )
)  # fmt: skip
"""MMAudio's 16 kHz mel converter (Cheng et al. 2025, ``mmaudio/ext/mel_converter.py``,
``get_mel_converter('16k')``, from Make-An-Audio 2): n_fft 1024, hop 256, win 1024, HiFi-GAN
framing (384 samples of reflect padding, ``center=False``: N // 256 frames, frame t centred on
sample 256 t + 128), magnitudes ``sqrt(re^2 + im^2 + 1e-9)``, 80 slaney mels 0-8000 Hz,
log10(max(x, 1e-5)). MMAudio also clamps the wave to [-1, 1] first."""

MMAUDIO_44K = _preset(
    MelRecipe(
        "mmaudio-44k", 44100, n_fft=2048, hop_length=512, n_mels=128, f_min=0.0, f_max=22050.0,
        log="ln", floor=1e-5, framing="hifigan", magnitude_eps=1e-9,
    )
)  # fmt: skip
"""MMAudio's 44.1 kHz mel converter (``get_mel_converter('44k')``): n_fft 2048, hop 512, win 2048,
HiFi-GAN framing (768 samples of padding: N // 512 frames, frame t centred on 512 t + 256),
magnitudes ``sqrt(re^2 + im^2 + 1e-9)``, 128 slaney mels 0-22050 Hz, ln(max(x, 1e-5))."""


def get_recipe(name_or_dict: str | dict[str, Any] | MelRecipe) -> MelRecipe:
    """A preset by name (see ``MEL_RECIPES.list()``), a recipe dict, or a recipe passed through.

    An unknown name raises ConfigError (the registry's UnknownNameError) listing the presets.
    """
    if isinstance(name_or_dict, MelRecipe):
        return name_or_dict
    if isinstance(name_or_dict, dict):
        return MelRecipe.from_dict(name_or_dict)
    return MEL_RECIPES.get(name_or_dict)


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
