"""Onset shaping: the onset head decides where the rendered log-mel starts a sound."""

import pytest
import torch
from torch import nn

from avseq.errors import ConfigError
from avseq.models import SoundModel
from avseq.models.onset_shaping import DIP, called_starts, shape_log_mel
from avseq.models.systems import build_system


def test_called_starts_are_peaks_at_or_above_the_threshold_within_each_clip():
    prob = torch.tensor(
        [
            [0.1, 0.9, 0.3, 0.6, 0.6, 0.2, 0.95, 0.99],  # a plateau (0.6, 0.6) starts once
            [0.9, 0.2, 0.1, 0.7, 0.1, 0.9, 0.1, 0.1],  # steps from 5 on are beyond its length
        ]
    )
    called = called_starts(prob, torch.tensor([8, 5]), threshold=0.5)
    assert called[0].nonzero().flatten().tolist() == [1, 3, 7]  # 6 rises on to 7: one start
    assert called[1].nonzero().flatten().tolist() == [0, 3]
    assert not called_starts(prob, torch.tensor([8, 5]), threshold=0.999).any()


def test_shaped_log_mel_rises_only_on_free_frames_and_dips_before_each_start():
    g = torch.Generator().manual_seed(0)
    mel = torch.randn(1, 30, 4, generator=g)
    free = torch.zeros(1, 30, dtype=torch.bool)
    free[0, 12:15] = True
    out = shape_log_mel(mel, free, gap=3)
    torch.testing.assert_close(out[0, 12:15], mel[0, 12:15])  # a start keeps its level
    for j in range(1, 30):
        if not free[0, j]:
            assert torch.all(out[0, j] <= out[0, j - 1] + 1e-6)  # hold or fall
    assert torch.all(out[0, 9:12] <= mel[0, 12] - DIP + 1e-6)  # the gap before the start
    assert torch.all(out <= mel + 1e-6)  # never raised
    # frames after the start run keep the running minimum from the run's last frame
    torch.testing.assert_close(out[0, 15], torch.minimum(mel[0, 14], mel[0, 15]))


def test_gap_longer_than_the_clip_is_cut_to_it():
    mel = torch.zeros(1, 3, 2)
    free = torch.tensor([[False, True, False]])
    out = shape_log_mel(mel, free, gap=10)
    torch.testing.assert_close(out[0, 0], torch.full((2,), -DIP))


class FixedLogits(nn.Module):
    """An onset head that calls a start at chosen steps, whatever the RNN says."""

    def __init__(self, steps: list[int]) -> None:
        super().__init__()
        self.steps = steps

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        logits = torch.full(h.shape[:2], -5.0)
        logits[:, self.steps] = 5.0
        return logits[..., None]


def test_sound_model_renders_starts_where_its_onset_head_calls_them():
    torch.manual_seed(0)
    model = SoundModel(
        6, n_mels=5, video_fps=10.0, mel_frame_rate=100.0, hidden_size=8, bidirectional=True,
        upsample="output", interpolation="hold", onset_head=True, onset_threshold=0.5,
    ).eval()  # fmt: skip
    model.onset = FixedLogits([5])  # step 5 covers mel frames 50-59
    feats, lengths = torch.randn(1, 10, 6), torch.tensor([10])
    with torch.no_grad():
        shaped, _ = model(feats, lengths)
        raw, _ = model(feats, lengths, raw=True)
    shaped, raw = shaped[0].T, raw[0].T  # (T', n_mels)
    torch.testing.assert_close(shaped[50:60], raw[50:60])
    rises = (shaped[1:] > shaped[:-1] + 1e-6).any(1).nonzero().flatten() + 1
    assert set(rises.tolist()) <= set(range(50, 60))
    assert torch.all(shaped[44:50] <= raw[50] - DIP + 1e-6)
    model.onset_threshold = None  # without it the head is ignored: the raw output, rendered
    with torch.no_grad():
        torch.testing.assert_close(model(feats, lengths)[0][0].T, raw)


def test_onset_threshold_needs_the_head_and_a_probability():
    encoder = {"name": "compact", "out_dim": 8}
    config = {"kind": "sound", "encoder": encoder, "model": {"onset_threshold": 0.8}}
    with pytest.raises(ConfigError, match="onset_threshold must lie in \\(0, 1\\) and needs onset_head"):
        build_system(config)
    config["model"] = {"onset_head": True, "onset_threshold": 1.5}
    with pytest.raises(ConfigError, match="onset_threshold must lie in"):
        build_system(config)
    config["model"]["onset_threshold"] = 0.8
    assert build_system(config).model.onset_threshold == 0.8
