"""Mel recipes against librosa (filters and melspectrogram configured the same way), framing, lengths.

Tolerances: filterbanks and linear mel spectrograms agree with librosa to 1e-5 of their
peak (avseq keeps the filterbank in float32; librosa computes in float64).
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from avseq.errors import ConfigError
from avseq.transforms import MEL_RECIPES, LogMel, MelRecipe, from_log, get_recipe, mel_spectrogram, num_frames
from avseq.transforms.mel import mel_filterbank, to_log
from tests.conftest import DEVICES

PRESETS = ["default", "diff-foley", "mmaudio-16k", "mmaudio-44k", "specvqgan"]
REL_TOL = 1e-5


def _signal(recipe: MelRecipe, seconds: float = 0.25, seed: int = 0) -> np.ndarray:
    """Seeded noise plus two tones, with an odd length (not a multiple of the hop)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * recipe.sample_rate) + 37
    t = np.arange(n) / recipe.sample_rate
    return (
        0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 2500 * t) + 0.05 * rng.standard_normal(n)
    )


def _librosa_mel(y: np.ndarray, r: MelRecipe) -> np.ndarray:
    """librosa's mel of ``y``: centred frames, or HiFi-GAN's (n_fft - hop) // 2 reflect padding then
    uncentred frames; magnitudes sqrt(|X|^2 + magnitude_eps)."""
    f_min, f_max = r.band
    if r.framing == "hifigan":
        y = np.pad(y, (r.n_fft - r.hop_length) // 2, mode="reflect")
    spec = librosa.stft(
        y, n_fft=r.n_fft, hop_length=r.hop_length, win_length=r.window_length, window="hann",
        center=r.framing == "center", pad_mode="reflect",
    )  # fmt: skip
    mag = np.sqrt(np.abs(spec) ** 2 + r.magnitude_eps) ** r.power
    basis = librosa.filters.mel(
        sr=r.sample_rate, n_fft=r.n_fft, n_mels=r.n_mels, fmin=f_min, fmax=f_max,
        htk=r.mel_scale == "htk", norm=r.norm,
    )  # fmt: skip
    return basis @ mag


def test_registry_holds_the_documented_presets():
    assert MEL_RECIPES.list() == sorted(PRESETS)
    assert get_recipe("default").frame_rate == 100.0
    spec = get_recipe("specvqgan")
    assert (spec.sample_rate, spec.n_fft, spec.hop_length, spec.n_mels) == (22050, 1024, 256, 80)
    assert spec.band == (125.0, 7600.0) and spec.power == 1.0 and spec.normalize == "specvqgan"
    assert (get_recipe("mmaudio-44k").n_fft, get_recipe("mmaudio-44k").n_mels) == (2048, 128)


@pytest.mark.parametrize("name", PRESETS)
def test_filterbank_matches_librosa(name):
    r = get_recipe(name)
    f_min, f_max = r.band
    ref = librosa.filters.mel(
        sr=r.sample_rate, n_fft=r.n_fft, n_mels=r.n_mels, fmin=f_min, fmax=f_max, htk=False, norm=r.norm
    )
    ours = mel_filterbank(r).T.numpy()
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() <= REL_TOL * ref.max()


@pytest.mark.parametrize("name", PRESETS)
def test_mel_spectrogram_matches_librosa(name):
    r = get_recipe(name)
    y = _signal(r)
    ref = _librosa_mel(y, r)
    ours = mel_spectrogram(torch.from_numpy(y), r)[0].numpy()
    assert ours.shape == ref.shape == (r.n_mels, num_frames(len(y), r))
    assert np.abs(ours - ref).max() <= REL_TOL * ref.max()


def test_specvqgan_log_matches_their_chain():
    """SpecVQGAN: clip((20 * log10(max(x, 1e-5)) - 20 + 100) / 100, 0, 1) on librosa's mel."""
    r = get_recipe("specvqgan")
    y = _signal(r, 0.2)
    ref = np.clip((20 * np.log10(np.maximum(_librosa_mel(y, r), 1e-5)) - 20 + 100) / 100, 0, 1)
    ours = to_log(mel_spectrogram(torch.from_numpy(y), r), r)[0].numpy()
    assert np.abs(ours - ref).max() < 1e-4
    assert ours.min() >= 0.0 and ours.max() <= 1.0


@pytest.mark.parametrize("n", [1, 100, 159, 160, 161, 257, 1234, 16000])
def test_num_frames_matches_output(n):
    r = get_recipe("default")
    wave = torch.randn(1, n, generator=torch.Generator().manual_seed(n))
    assert mel_spectrogram(wave, r).shape[-1] == num_frames(n, r) == n // 160 + 1
    assert num_frames(torch.tensor([n, 0]), r).tolist() == [n // 160 + 1, 0]


@pytest.mark.parametrize("n", [1, 255, 256, 257, 511, 512, 1023, 4000])
def test_hifigan_framing_counts_and_centres(n):
    """MMAudio's framing: N // hop frames (none for a wave shorter than a hop), frame t centred
    on sample t * hop + hop / 2."""
    r = get_recipe("mmaudio-16k")
    wave = torch.randn(1, n, generator=torch.Generator().manual_seed(n))
    assert mel_spectrogram(wave, r).shape[-1] == num_frames(n, r) == n // 256
    assert num_frames(torch.tensor([n, 0]), r).tolist() == [n // 256, 0]
    assert r.stft_padding == 384 and r.frame_offset == pytest.approx(128 / 16000)
    assert get_recipe("default").frame_offset == 0.0


@pytest.mark.parametrize("log", ["db20", "db10", "ln", "log10"])
def test_log_round_trip(log):
    r = MelRecipe("t", 16000, n_fft=512, hop_length=160, n_mels=64, log=log)
    mel = torch.rand(2, 64, 9, dtype=torch.float64) + 1e-3
    assert torch.allclose(from_log(to_log(mel, r), r), mel, rtol=1e-9)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("name", "counts"), [("default", [26, 15]), ("mmaudio-16k", [15, 9])])
def test_logmel_batch_gives_each_item_its_own_answer(device, name, counts):
    r = get_recipe(name)
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(4000, generator=g) * 0.1, torch.randn(2345, generator=g) * 0.1
    batch = torch.zeros(2, 4000)
    batch[0], batch[1, :2345] = a, b
    module = LogMel(r).to(device)
    log_mel, frame_lengths = module(batch.to(device), torch.tensor([4000, 2345]))
    alone, alone_len = module(b[None].to(device))
    n = counts[1]
    assert frame_lengths.tolist() == counts and alone_len.tolist() == [n]
    assert torch.allclose(log_mel[1, :, :n], alone[0], atol=1e-5)
    assert torch.count_nonzero(log_mel[1, :, n:]) == 0
    pure = to_log(mel_spectrogram(batch.to(device), r, torch.tensor([4000, 2345])), r)
    assert torch.allclose(pure[0], log_mel[0], atol=1e-4)


def test_recipe_dict_round_trip_and_validation_messages():
    r = get_recipe("diff-foley")
    assert MelRecipe.from_dict(r.to_dict()) == r
    assert get_recipe(r.to_dict()) == r
    with pytest.raises(ConfigError, match=r"unknown mel recipe 'hifi'; known: default, diff-foley"):
        get_recipe("hifi")
    with pytest.raises(ConfigError, match=r"Invalid mel recipe log 'db'\. Supported: 'db20', 'db10'"):
        MelRecipe("x", 16000, n_fft=512, hop_length=160, n_mels=64, log="db")
    with pytest.raises(ConfigError, match="needs log='db20'"):
        MelRecipe("x", 16000, n_fft=512, hop_length=160, n_mels=64, normalize="specvqgan")
    with pytest.raises(ConfigError, match=r"Unknown mel recipe keys \['hop'\]"):
        MelRecipe.from_dict({"sample_rate": 16000, "n_fft": 512, "hop": 160, "n_mels": 64})
    with pytest.raises(ConfigError, match="f_max=9000"):
        MelRecipe("x", 16000, n_fft=512, hop_length=160, n_mels=64, f_max=9000.0)


def test_framing_and_magnitude_eps_validation_messages():
    with pytest.raises(
        ConfigError, match=r"Invalid mel recipe framing 'centre'\. Supported: 'center', 'hifigan'"
    ):
        MelRecipe("x", 16000, n_fft=512, hop_length=160, n_mels=64, framing="centre")
    with pytest.raises(ConfigError, match="framing='hifigan' needs hop_length <= n_fft=512"):
        MelRecipe("x", 16000, n_fft=512, hop_length=600, n_mels=64, framing="hifigan")
    with pytest.raises(ConfigError, match="Invalid mel recipe magnitude_eps -1"):
        MelRecipe("x", 16000, n_fft=512, hop_length=160, n_mels=64, magnitude_eps=-1.0)
    old_bundle = {
        k: v for k, v in get_recipe("default").to_dict().items() if k not in ("framing", "magnitude_eps")
    }
    assert MelRecipe.from_dict(old_bundle) == get_recipe("default")  # recipes saved before these keys


def test_mmaudio_magnitudes_keep_its_epsilon():
    """MMAudio takes sqrt(re^2 + im^2 + 1e-9): silence gives sqrt(1e-9) in every STFT bin."""
    r = get_recipe("mmaudio-44k")
    mel = mel_spectrogram(torch.zeros(1, 4096), r)
    assert torch.allclose(mel[0].T, 1e-9**0.5 * mel_filterbank(r).sum(0).expand(mel.shape[-1], -1), rtol=1e-4)
    assert mel_spectrogram(torch.zeros(1, 4096), get_recipe("default")).abs().max() == 0
