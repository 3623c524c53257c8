import numpy as np
import pytest
import torch

from avseq.metrics import detect_onsets, log_spectral_distance, mel_l1, onset_f1, sync_offset
from avseq.metrics.audio import OnsetScores, match_onsets

SR = 16000


def impacts(times, duration=2.0, sr=SR, seed=0):
    """Decaying noise bursts (clicks of a struck object) starting at ``times`` seconds."""
    rng = np.random.default_rng(seed)
    wave = 0.002 * rng.standard_normal(int(duration * sr))
    burst_n = int(0.08 * sr)
    env = np.exp(-np.arange(burst_n) / (0.01 * sr))
    for t in times:
        i = int(round(t * sr))
        n = min(burst_n, len(wave) - i)
        wave[i : i + n] += 0.8 * env[:n] * rng.standard_normal(n)
    return wave.astype(np.float32)


def shift(wave, seconds, sr=SR):
    """Delay ``wave`` by ``seconds`` (circularly, so the noise floor has no new edge)."""
    return np.roll(wave, int(round(seconds * sr)))


def test_matching_is_one_to_one_and_tolerance_bounded():
    assert match_onsets([1.0, 1.02], [1.01], 0.05) == 1
    assert match_onsets([1.0, 2.0], [1.06, 1.99], 0.05) == 1
    assert match_onsets([0.5, 0.6, 0.7], [0.55, 0.65, 0.75], 0.05) == 3
    s = onset_f1([1.0, 2.0, 3.0, 4.0], [1.01, 2.2, 3.0], 0.05)
    assert (s.precision, s.recall) == (pytest.approx(2 / 3), 0.5)
    assert s.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    total = OnsetScores.total([s, onset_f1([], [], 0.05), onset_f1([1.0], [1.0], 0.05)])
    assert (total.matches, total.n_reference, total.n_estimated) == (3, 5, 4)
    with pytest.raises(ValueError, match="tolerance must be >= 0"):
        match_onsets([1.0], [1.0], -1)


def test_onsets_and_sync_recover_a_known_shift_of_impacts():
    times = [0.25, 0.6, 1.0, 1.45]
    wave = impacts(times)
    found = detect_onsets(wave, SR)
    assert onset_f1(times, found, 0.02).f1 == 1.0
    late = shift(wave, 0.1)
    assert onset_f1(times, detect_onsets(late, SR), 1 / 15).f1 == 0.0
    assert onset_f1([t + 0.1 for t in times], detect_onsets(late, SR), 1 / 15).f1 == 1.0
    assert sync_offset(late, wave, SR) == pytest.approx(0.1, abs=0.005)
    assert sync_offset(shift(wave, -0.06), wave, SR) == pytest.approx(-0.06, abs=0.005)
    assert sync_offset(wave, wave, SR) == pytest.approx(0.0, abs=1e-9)
    from avseq.metrics.audio import envelope_offset, onset_envelope

    (env_late, rate), (env, _) = onset_envelope(late, SR), onset_envelope(wave, SR)
    assert envelope_offset(env_late, env, rate) == sync_offset(late, wave, SR)  # what sync_offset computes


@pytest.mark.media
def test_sync_offset_recovers_shift_of_a_real_clip(shared_media):
    from avseq.metrics.audio import to_mono

    av = pytest.importorskip("av")
    path = shared_media / "CondFoleyGen__data_demo_video_hitting_metal.mp4"
    with av.open(str(path)) as c:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SR)
        chunks = [f.to_ndarray() for fr in c.decode(audio=0) for f in resampler.resample(fr)]
    wave = to_mono(np.concatenate(chunks, axis=1)[:, : 4 * SR])
    assert sync_offset(shift(wave, 0.08), wave, SR) == pytest.approx(0.08, abs=0.005)
    ref = detect_onsets(wave, SR)
    assert len(ref) >= 3
    moved = detect_onsets(shift(wave, 0.08), SR)
    inside = (ref + 0.08 < 3.9), (moved > 0.1) & (moved < 3.9)  # away from the wrapped edge
    assert onset_f1(ref[inside[0]] + 0.08, moved[inside[1]], 0.02).f1 == 1.0


def test_spectral_distances_are_zero_on_self_and_grow_with_difference():
    wave = impacts([0.3, 0.9])
    other = impacts([0.5], seed=1)
    assert log_spectral_distance(wave, wave) == pytest.approx(0.0, abs=1e-6)
    assert log_spectral_distance(wave, other) > 3.0
    a = torch.randn(8, 20)
    assert mel_l1(a, a[:, :15]) == 0.0
    assert mel_l1(a, a + 1) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="equal n_mels"):
        mel_l1(a, torch.zeros(4, 20))
