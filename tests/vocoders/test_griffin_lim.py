"""Griffin-Lim: parity with torchaudio's loop, quality against librosa's mel inversion, lengths.

Spectral convergence (SC) = ||M(y_hat) - M|| / ||M|| on linear mel magnitudes, both
computed with the same recipe. Ours must be no worse than librosa's ``mel_to_audio``
(``mel_to_stft`` NNLS + 32 ``griffinlim`` iterations, seeded) plus a 0.03 margin, and below 0.2.
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch
import torchaudio

from avseq.errors import ConfigError
from avseq.transforms import get_recipe, mel_spectrogram, to_log
from avseq.transforms.mel import stft_window
from avseq.vocoders import VOCODERS, GriffinLim, Vocoder, build_vocoder, griffin_lim
from tests.conftest import DEVICES

SC_MARGIN = 0.03


def _tone(sr: int, seconds: float = 0.5) -> torch.Tensor:
    t = torch.arange(int(sr * seconds), dtype=torch.float64) / sr
    noise = torch.randn(t.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    wave = 0.5 * torch.sin(2 * torch.pi * 440 * t) + 0.3 * torch.sin(2 * torch.pi * 1250 * t) * (t > 0.2)
    return (wave + 0.02 * noise).float()


def _sc(wave: torch.Tensor | np.ndarray, mel: torch.Tensor, recipe) -> float:
    rebuilt = mel_spectrogram(torch.as_tensor(wave).float().reshape(1, -1), recipe)
    t = min(rebuilt.shape[-1], mel.shape[-1])
    return float((rebuilt[..., :t] - mel[..., :t]).norm() / mel[..., :t].norm())


def test_registry_builds_a_vocoder():
    vocoder = build_vocoder("griffin-lim", "default", n_iter=4)
    assert isinstance(vocoder, Vocoder) and vocoder.sample_rate == 16000
    assert "griffin-lim" in VOCODERS.list()
    with pytest.raises(ConfigError, match=r"unknown vocoder 'hifigan'; known: griffin-lim"):
        build_vocoder("hifigan", "default")
    with pytest.raises(ConfigError, match="Invalid Griffin-Lim init 'noise'. Supported: 'random', 'zeros'"):
        GriffinLim("default", init="noise")


def test_loop_matches_torchaudio_for_one_item():
    r = get_recipe("default")
    window = stft_window(r)
    spec = torch.stft(_tone(r.sample_rate), r.n_fft, r.hop_length, window=window, return_complex=True).abs()
    t = spec.shape[-1]
    ours = griffin_lim(spec[None], torch.tensor([t]), n_fft=r.n_fft, hop_length=r.hop_length, window=window,
                       n_iter=8, init="zeros")  # fmt: skip
    ref = torchaudio.functional.griffinlim(
        spec[None], window, r.n_fft, r.hop_length, r.n_fft, 1.0, 8, 0.99, (t - 1) * r.hop_length, False
    )
    assert ours.shape == ref.shape
    assert (ours - ref).abs().max() < 1e-4


def test_quality_against_librosa_mel_to_audio():
    r = get_recipe("default")
    mel = mel_spectrogram(_tone(r.sample_rate), r)
    wave, lengths = GriffinLim(r, n_iter=32)(to_log(mel, r))
    assert wave.shape == (1, (mel.shape[-1] - 1) * r.hop_length) and lengths.tolist() == [wave.shape[1]]
    # librosa.feature.inverse.mel_to_audio, spelled out to seed its random phase init
    linear = librosa.feature.inverse.mel_to_stft(
        mel[0].double().numpy(),
        sr=r.sample_rate,
        n_fft=r.n_fft,
        power=r.power,
        fmin=r.band[0],
        fmax=r.band[1],
    )
    ref = librosa.griffinlim(linear, n_iter=32, hop_length=r.hop_length, n_fft=r.n_fft, pad_mode="reflect",
                             random_state=0)  # fmt: skip
    ours, theirs = _sc(wave, mel, r), _sc(ref, mel, r)
    assert ours <= theirs + SC_MARGIN, (ours, theirs)
    assert ours < 0.2


def test_specvqgan_normalized_input_reconstructs():
    r = get_recipe("specvqgan")
    mel = mel_spectrogram(_tone(r.sample_rate, 0.3), r)
    wave, _ = GriffinLim(r, n_iter=32)(to_log(mel, r))
    assert _sc(wave, mel, r) < 0.25


@pytest.mark.parametrize("device", DEVICES)
def test_batch_with_lengths_gives_each_item_its_own_answer(device):
    r = get_recipe("default")
    a, b = _tone(r.sample_rate, 0.3), _tone(r.sample_rate, 0.17)[:2345] * 0.5
    batch = torch.zeros(2, a.shape[0])
    batch[0], batch[1, : b.shape[0]] = a, b
    lengths = torch.tensor([a.shape[0], b.shape[0]])
    log_mel = to_log(mel_spectrogram(batch, r, lengths), r).to(device)
    frame_lengths = torch.tensor([a.shape[0] // 160 + 1, b.shape[0] // 160 + 1])
    vocoder = GriffinLim(r, n_iter=8)
    waves, wave_lengths = vocoder(log_mel, frame_lengths)
    alone, alone_lengths = vocoder(log_mel[1:, :, : frame_lengths[1]])
    assert waves.device.type == device
    assert wave_lengths.tolist() == [(frame_lengths[0] - 1) * 160, (frame_lengths[1] - 1) * 160]
    assert alone_lengths.tolist() == [wave_lengths[1].item()]
    n = int(wave_lengths[1])
    assert torch.allclose(waves[1, :n], alone[0, :n], atol=1e-4)
    assert torch.count_nonzero(waves[1, n:]) == 0


def test_single_frame_and_empty_items_give_empty_waves():
    vocoder = GriffinLim("default", n_iter=2)
    wave, lengths = vocoder(torch.zeros(2, 64, 1))
    assert wave.shape == (2, 0) and lengths.tolist() == [0, 0]
    wave, lengths = vocoder(torch.zeros(2, 64, 5), torch.tensor([5, 0]))
    assert wave.shape == (2, 640) and lengths.tolist() == [640, 0]
    assert torch.count_nonzero(wave[1]) == 0


@pytest.mark.parametrize(
    "n, hop, frames", [(512, 160, 50), (1024, 256, 7), (400, 100, 3), (512, 512, 4), (8, 3, 1)]
)
def test_overlap_add_sums_as_fold_does(n, hop, frames):
    import torch.nn.functional as F

    from avseq.vocoders.griffin_lim import overlap_add

    x = torch.randn(2, n, frames, generator=torch.Generator().manual_seed(n))
    expected = F.fold(x, (1, n + hop * (frames - 1)), (1, n), stride=(1, hop)).view(2, -1)
    assert torch.equal(overlap_add(x, hop), expected)
