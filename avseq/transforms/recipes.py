"""Log-mel spectrogram recipes: one frozen record per way of turning a wave into a log-mel.

A :class:`MelRecipe` names every choice that changes the numbers (sample rate, STFT
size and framing, filterbank, log scaling, normalization), so a trained model can carry the
exact recipe it was trained on; :data:`MEL_RECIPES` holds the named presets. The math that
follows a recipe is :mod:`avseq.transforms.mel`'s; this module is plain data (no torch), so
a pipeline file and a bundle's ``bundle.json`` are checked without importing torch.
``tests/transforms/test_mel_parity.py`` checks each preset against its paper's own code, from
a stereo file on (decoding to mono is the channel mean, as those recipes take it: see
:mod:`avseq.io.resample`).
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

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, get_args

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
