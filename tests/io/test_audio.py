import numpy as np
import pytest
import soundfile
import torch
import torchaudio

from avseq.errors import NoStreamError, TruncatedMediaError
from avseq.io import decode_audio, write_audio
from avseq.io.resample import resample_wave
from tests.io.conftest import SR, sine


def test_decode_keeps_rate_channels_and_duration(media):
    audio = decode_audio(media["gop"])
    assert audio.sample_rate == SR and audio.wave.shape[0] == 1 and audio.wave.dtype == torch.float32
    assert audio.duration == pytest.approx(6.0, abs=1024 / SR)
    assert audio.start == pytest.approx(0.0, abs=1e-3)
    peak = np.abs(np.fft.rfft(audio.wave[0, SR : 2 * SR].numpy())).argmax()
    assert peak == pytest.approx(440, abs=2)  # one second of samples: bin index = Hz


def test_resample_and_remix(media):
    audio = decode_audio(media["gop"], sample_rate=8000, channels=2)
    assert audio.sample_rate == 8000 and audio.wave.shape[0] == 2
    assert audio.duration == pytest.approx(6.0, abs=0.07)
    assert torch.allclose(audio.wave[0], audio.wave[1])


def test_start_end_cut_on_the_timeline(media):
    audio = decode_audio(media["gop"], start=1.5, end=2.25)
    assert audio.start == pytest.approx(1.5, abs=1 / SR)
    assert audio.wave.shape[1] == round(0.75 * SR)
    whole = decode_audio(media["gop"])
    offset = round(1.5 * SR)
    assert torch.allclose(audio.wave, whole.wave[:, offset : offset + audio.wave.shape[1]], atol=1e-4)


def test_audio_start_offset_on_video_timeline(shared_media):
    audio = decode_audio(shared_media / "moviepy__media_no_duration.webm")
    assert audio.start == pytest.approx(0.015, abs=1e-3)  # Opus starts 15 ms after the video


def test_second_audio_stream(media):
    second = decode_audio(media["multi"], stream=1)
    assert second.wave.shape[0] == 2
    with pytest.raises(NoStreamError, match="no audio stream 2 \\(the file has 2 audio streams\\)"):
        decode_audio(media["multi"], stream=2)
    with pytest.raises(NoStreamError, match="no audio stream"):
        decode_audio(media["odd"])


def test_audio_only_file(media):
    audio = decode_audio(media["m4a"])
    assert audio.duration == pytest.approx(1.0, abs=1024 / SR)


def test_truncated_audio(media):
    with pytest.raises(TruncatedMediaError, match="audio data ends"):
        decode_audio(media["truncated"])
    with pytest.warns(UserWarning, match="truncated"):
        assert decode_audio(media["truncated"], on_truncated="warn").duration < 3.0


@pytest.mark.parametrize("ext", ["wav", "flac"])
@pytest.mark.parametrize("shape", [(2, 4000), (4000,)])
def test_write_read_round_trip(tmp_path, ext, shape):
    wave = sine(0.25, 300, channels=2)[: shape[0]] if len(shape) == 2 else sine(0.25, 300)[0]
    path = write_audio(tmp_path / f"x.{ext}", torch.from_numpy(wave), SR)
    back = decode_audio(path)
    expected = wave if wave.ndim == 2 else wave[None]
    assert back.sample_rate == SR and tuple(back.wave.shape) == expected.shape
    assert np.abs(back.wave.numpy() - expected).max() < 1 / 16000  # 16-bit quantisation
    assert [p.name for p in tmp_path.iterdir()] == [f"x.{ext}"]


def test_write_audio_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match=r"Invalid audio file extension '\.mp3'.*Supported: \.wav, \.flac"):
        write_audio(tmp_path / "x.mp3", np.zeros(10), SR)
    with pytest.raises(ValueError, match="wave must be"):
        write_audio(tmp_path / "x.wav", np.zeros((1, 1, 10)), SR)
    with pytest.raises(ValueError, match="Invalid sample_rate 0"):
        write_audio(tmp_path / "x.wav", np.zeros(10), 0)


def _unlike_channels(channels: int, seconds: float = 0.5) -> np.ndarray:
    """(C, N) float32 whose channels differ: a tone of its own frequency and level per channel."""
    t = np.arange(int(seconds * SR)) / SR
    return np.stack(
        [(0.3 / (c + 1)) * np.sin(2 * np.pi * (220 * (c + 1) + 37) * t) for c in range(channels)]
    ).astype(np.float32)


@pytest.mark.parametrize("channels", [2, 6])  # stereo and 5.1 (LFE and surrounds count like the fronts)
def test_mono_is_the_mean_of_all_channels(tmp_path, channels):
    """libswresample's float downmix gives 0.707 * (L + R) for stereo (3 dB hot) and drops the LFE of
    5.1; mono must be the plain channel mean, as librosa and the mel recipes take it."""
    path = write_audio(tmp_path / "x.wav", _unlike_channels(channels), SR)
    every = decode_audio(path).wave
    assert every.shape[0] == channels
    mono = decode_audio(path, channels=1).wave
    assert mono.shape == (1, every.shape[1])
    assert torch.allclose(mono[0], every.mean(dim=0), atol=1e-6)
    resampled = decode_audio(path, sample_rate=8000, channels=1).wave[0]
    assert torch.allclose(resampled, decode_audio(path, sample_rate=8000).wave.mean(dim=0), atol=1e-5)


def test_mono_of_a_compressed_stereo_stream_keeps_its_timeline(media):
    every, mono = decode_audio(media["multi"], stream=1), decode_audio(media["multi"], stream=1, channels=1)
    assert mono.start == every.start and mono.wave.shape == (1, every.wave.shape[1])
    assert torch.allclose(mono.wave[0], every.wave.mean(dim=0), atol=1e-6)


def test_resample_wave_to_mono_is_the_channel_mean():
    wave = _unlike_channels(6)
    assert np.allclose(resample_wave(wave, SR, SR, channels=1)[0], wave.mean(axis=0), atol=1e-7)


def test_resampling_is_kaiser_best(tmp_path):
    """Rates change with librosa 0.8's / MMAudio's "kaiser_best" filter (torchaudio's spelling of
    it here); libswresample's default filter differs by ~10% RMS on white noise."""
    rng = np.random.default_rng(0)
    wave = (0.1 * rng.standard_normal(48000)).astype(np.float32)
    path = tmp_path / "noise.wav"
    soundfile.write(path, wave, 48000, subtype="FLOAT")
    ours = decode_audio(path, sample_rate=16000).wave[0]
    ref = torchaudio.functional.resample(
        torch.from_numpy(wave), 48000, 16000, lowpass_filter_width=64, rolloff=0.9475937167399596,
        resampling_method="sinc_interp_kaiser", beta=14.769656459379492,
    )  # fmt: skip
    assert ours.shape == ref.shape
    assert (ours - ref).pow(2).mean().sqrt() < 0.01 * ref.pow(2).mean().sqrt()
