"""Every mel preset, from a stereo file to the log-mel, against the chain its paper's code runs.

avseq's side is what a pipeline does: ``decode_audio(path, sample_rate=sr, channels=1)`` then
``LogMel(preset)``. The reference side is written here from the recipes' code, without avseq:

- specvqgan (``feature_extraction/extract_audio_and_video.py`` + ``extract_mel_spectrogram.py``):
  ``ffmpeg -f wav`` (s16), ``ffmpeg -ac 1 -ar 22050`` (s16: channel mean, libswresample's default
  resampler, run here through PyAV as the ffmpeg command runs it), ``librosa.load(sr=None)``,
  ``librosa.stft`` (centred, reflect: librosa 0.8), slaney mels 125-7600 Hz on magnitudes,
  ``clip((20 log10(max(x, 1e-5)) - 20 + 100) / 100, 0, 1)``.
- diff-foley (``data_preprocess/wav2spec.py``): ``librosa.load(sr=16000)`` as librosa 0.8 runs it
  (s16 decode, channel mean, resampy's "kaiser_best"), then the SpecVQGAN chain with 128 mels.
- mmaudio-16k / mmaudio-44k (``mmaudio/data/extraction/vgg_sound.py`` + ``mmaudio/ext/mel_converter.py``):
  float decode, channel mean, torchaudio's sinc resampler with kaiser_best settings, clamp to
  [-1, 1], (n_fft - hop) / 2 reflect padding, ``torch.stft(center=False)``,
  ``sqrt(re^2 + im^2 + 1e-9)``, librosa's slaney mels, log10 / ln of ``clamp(x, 1e-5)``.
- default (avseq's own): float decode, channel mean, kaiser_best, the librosa chain, ln.

"kaiser_best" is torchaudio's spelling of resampy's filter (64 zero crossings, beta 14.77,
roll-off 0.9476), which MMAudio uses and whose documentation matches against resampy.
The recipes' fixed-length steps (SpecVQGAN's 10 s pad/trim and 860 frames, Diff-Foley's
``length - 1`` samples, MMAudio's ``[:expected_length]``) choose the clip, not the features, and
are left out: whole clips are compared.

Tolerance: mean |difference| <= 0.005 on each preset's own output scale: [0, 1] for specvqgan
and diff-foley; log10 units for mmaudio-16k (about 6 units from floor to full scale), natural-log
units for mmaudio-44k and default (about 14), so the log presets are held tighter than the [0, 1]
ones. What is left is the resamplers (libswresample with kaiser_best settings against torchaudio,
or kaiser_best against SpecVQGAN's default libswresample in the top of the band, above 7600 Hz)
and s16 rounding.
"""

from __future__ import annotations

from pathlib import Path

import av
import librosa
import numpy as np
import pytest
import soundfile
import torch
import torch.nn.functional as F
import torchaudio

from avseq.io import decode_audio
from avseq.transforms import LogMel, get_recipe

PRESETS = ["default", "diff-foley", "mmaudio-16k", "mmaudio-44k", "specvqgan"]
REAL_STEREO = ["mmaction2__tests_data_test.avi", "CondFoleyGen__data_demo_video_hitting_metal.mp4"]
TOLERANCE = 0.005
GENERATED_RATE = 48000
KAISER_BEST = dict(
    lowpass_filter_width=64, rolloff=0.9475937167399596, resampling_method="sinc_interp_kaiser",
    beta=14.769656459379492,
)  # fmt: skip


# ---- decoding and resampling as the recipes do -------------------------------------------------


def decode_float(path: Path) -> tuple[np.ndarray, int]:
    """The decoder's own float output (C, N) at the file's rate, samples before t = 0 dropped."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        frames = list(container.decode(stream))
    wave = np.concatenate([f.to_ndarray() for f in frames], axis=1).astype(np.float32)
    first = float(frames[0].pts * frames[0].time_base)
    return (wave[:, round(-first * stream.rate) :] if first < 0 else wave), stream.rate


def to_s16(wave: np.ndarray) -> np.ndarray:
    """FFmpeg's float -> s16 conversion (round to nearest, clipped)."""
    return np.clip(np.rint(wave * 32768.0), -32768, 32767).astype(np.int16)


def kaiser_best(y: np.ndarray, sr: int, to: int) -> np.ndarray:
    if sr == to:
        return y
    return torchaudio.functional.resample(torch.from_numpy(y).float(), sr, to, **KAISER_BEST).numpy()


def ffmpeg_mono_s16(wave: np.ndarray, sr: int, to: int) -> np.ndarray:
    """``ffmpeg -f wav`` then ``ffmpeg -ac 1 -ar TO`` on that s16 file, read as librosa reads it."""
    s16 = to_s16(wave)
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(s16.T.reshape(1, -1)), format="s16", layout={1: "mono", 2: "stereo"}[len(s16)]
    )
    frame.sample_rate, frame.pts = sr, 0
    resampler = av.AudioResampler(format="s16", layout="mono", rate=to)
    out = resampler.resample(frame) + resampler.resample(None)
    return np.concatenate([f.to_ndarray() for f in out], axis=1)[0].astype(np.float32) / 32768.0


def recipe_input(name: str, wave: np.ndarray, sr: int) -> np.ndarray:
    """The mono wave at the preset's rate, decoded / mixed / resampled as the recipe's code does."""
    rate = get_recipe(name).sample_rate
    if name == "specvqgan":
        return ffmpeg_mono_s16(wave, sr, rate)
    if name == "diff-foley":  # librosa 0.8 load: audioread s16, to_mono (mean), resampy kaiser_best
        return kaiser_best((to_s16(wave) / 32768.0).mean(axis=0), sr, rate)
    return kaiser_best(wave.mean(axis=0), sr, rate)  # MMAudio's loader; avseq's default


# ---- the recipes' feature code ------------------------------------------------------------------


def specvqgan_chain(y: np.ndarray, sr: int, n_mels: int) -> np.ndarray:
    spec = np.abs(librosa.stft(y.astype(np.float64), n_fft=1024, hop_length=256, pad_mode="reflect"))
    mel = librosa.filters.mel(sr=sr, n_fft=1024, fmin=125, fmax=7600, n_mels=n_mels) @ spec
    return np.clip((20 * np.log10(np.maximum(1e-5, mel)) - 20 + 100) / 100, 0, 1)


def mmaudio_chain(y: np.ndarray, sr: int, n_fft: int, hop: int, n_mels: int, fmax: float, log) -> np.ndarray:
    wave = torch.from_numpy(y).float().clamp(-1.0, 1.0)
    pad = int((n_fft - hop) / 2)
    wave = F.pad(wave.view(1, 1, -1), [pad, pad], mode="reflect").view(1, -1)
    spec = torch.stft(
        wave, n_fft, hop_length=hop, win_length=n_fft, window=torch.hann_window(n_fft), center=False,
        pad_mode="reflect", normalized=False, onesided=True, return_complex=True,
    )  # fmt: skip
    spec = torch.sqrt(torch.view_as_real(spec).pow(2).sum(-1) + 1e-9)
    basis = torch.from_numpy(
        librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=0, fmax=fmax)
    ).float()
    return log(torch.clamp(basis @ spec, min=1e-5))[0].numpy()


def default_chain(y: np.ndarray) -> np.ndarray:
    spec = np.abs(librosa.stft(y.astype(np.float64), n_fft=512, hop_length=160, pad_mode="reflect"))
    mel = librosa.filters.mel(sr=16000, n_fft=512, fmin=0, fmax=8000, n_mels=64) @ spec
    return np.log(np.maximum(1e-5, mel))


def reference(name: str, wave: np.ndarray, sr: int) -> np.ndarray:
    """(n_mels, T) log-mel of the (C, N) ``wave`` at ``sr`` Hz by the preset's own recipe."""
    y = recipe_input(name, wave, sr)
    if name == "specvqgan":
        return specvqgan_chain(y, 22050, 80)
    if name == "diff-foley":
        return specvqgan_chain(y, 16000, 128)
    if name == "mmaudio-16k":
        return mmaudio_chain(y, 16000, 1024, 256, 80, 8000, torch.log10)
    if name == "mmaudio-44k":
        return mmaudio_chain(y, 44100, 2048, 512, 128, 44100 / 2, torch.log)
    return default_chain(y)


def avseq_log_mel(name: str, path: Path) -> np.ndarray:
    recipe = get_recipe(name)
    audio = decode_audio(path, sample_rate=recipe.sample_rate, channels=1)
    with torch.no_grad():
        log_mel, _ = LogMel(recipe)(audio.wave)
    return log_mel[0].numpy()


def mean_abs_difference(name: str, path: Path, wave: np.ndarray, sr: int) -> float:
    ours, ref = avseq_log_mel(name, path), reference(name, wave, sr)
    assert ours.shape == ref.shape, f"{name}: avseq {ours.shape} frames, the recipe {ref.shape}"
    return float(np.abs(ours - ref).mean())


# ---- media ------------------------------------------------------------------------------------


def generated_stereo(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """(2, N) float32 at 48 kHz, left and right unlike: left a swelling 440 Hz + 3 kHz pair, right a
    200 Hz - 6 kHz chirp, and decaying noise bursts on alternate sides."""
    rng = np.random.default_rng(seed)
    n = int(seconds * GENERATED_RATE)
    t = np.arange(n) / GENERATED_RATE
    left = 0.3 * np.sin(2 * np.pi * 440 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 1.5 * t))
    left += 0.1 * np.sin(2 * np.pi * 3000 * t)
    right = 0.25 * np.sin(2 * np.pi * (200 * t + (6000 - 200) / (2 * seconds) * t**2))
    burst = int(0.05 * GENERATED_RATE)
    decay = np.exp(-np.arange(burst) / (0.01 * GENERATED_RATE))
    for k in range(4):
        start = int((0.2 + 0.45 * k) * GENERATED_RATE)
        (left if k % 2 else right)[start : start + burst] += 0.4 * rng.standard_normal(burst) * decay
    return np.stack([left, right]).astype(np.float32)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """A float32 stereo WAV (read back exactly) and its samples."""
    wave = generated_stereo()
    path = tmp_path_factory.mktemp("mel_parity") / "stereo.wav"
    soundfile.write(path, wave.T, GENERATED_RATE, subtype="FLOAT")
    return path, wave


@pytest.mark.parametrize("name", PRESETS)
def test_preset_matches_its_recipe_on_generated_stereo(name, generated):
    path, wave = generated
    assert mean_abs_difference(name, path, wave, GENERATED_RATE) <= TOLERANCE


@pytest.mark.parametrize("clip", REAL_STEREO)
@pytest.mark.parametrize("name", PRESETS)
def test_preset_matches_its_recipe_on_a_real_stereo_clip(name, clip, shared_media):
    path = shared_media / clip
    wave, sr = decode_float(path)
    assert wave.shape[0] == 2
    assert mean_abs_difference(name, path, wave, sr) <= TOLERANCE
