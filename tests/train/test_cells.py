"""Every cell trains: a few train_step calls on a trivially learnable toy lower the loss of the
sound and the caption system, one way and bidirectional; configs name a bad cell's key."""

import pytest
import torch

from avseq.data.collate import CaptionBatch, SoundBatch
from avseq.errors import ConfigError
from avseq.models import build_system
from avseq.models.rnn import CELLS
from avseq.train.schedule import build_scheduler
from avseq.train.steps import LossOptions, make_optimizer, train_step
from avseq.types import Features, Spectrogram
from tests.train.conftest import TINY

ENCODER = {"name": "compact", "out_dim": 8, "width": 4, "depth": 2}  # unused: batches carry features


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models (tests/conftest.py)


def toy_sound_batch():
    """Features (4, 6, 8) whose first 4 dims are the target log-mel of each frame (same rate)."""
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(4, 6, 8, generator=g)
    lengths = torch.tensor([6, 4, 5, 6])
    target = feats[..., :4].transpose(1, 2).contiguous()
    video = Features(feats, lengths)
    return SoundBatch(["a", "b", "c", "d"], video, Spectrogram(target, lengths, 10.0), lengths / 10.0)


def toy_caption_batch():
    """Clips whose features say one of two colours; the caption names it: [<bos>, colour, ball, <eos>]."""
    colour = torch.tensor([0, 1, 1, 0])
    feats = torch.zeros(4, 5, 8)
    feats[torch.arange(4), :, colour] = 1.0
    tokens = torch.stack([torch.tensor([1, 4 + int(c), 6, 2]) for c in colour])
    captions = [("red", "blue")[c] + " ball" for c in colour]
    return CaptionBatch(
        [str(i) for i in range(4)], Features(feats, torch.tensor([5, 3, 4, 5])), tokens,
        torch.full((4,), 4), captions, [(c,) for c in captions], torch.arange(4),
    )  # fmt: skip


def losses(system, batch, steps=25, lr=3e-2):
    optimizer = make_optimizer(system, lr, 0.0, (0.9, 0.999))
    scheduler = build_scheduler(optimizer, steps, 0, "constant")
    mse = LossOptions(kind="mse")
    return [train_step(system, batch, optimizer, scheduler, options=mse).loss for _ in range(steps)]


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", list(CELLS))
def test_each_cell_learns_the_sound_toy(cell, bidirectional):
    torch.manual_seed(0)
    model = {
        "n_mels": 4, "video_fps": 10.0, "mel_frame_rate": 10.0, "hidden_size": 16, "num_layers": 2,
        "cell": cell, "bidirectional": bidirectional, "upsample": "output",
    }  # fmt: skip
    system = build_system({"kind": "sound", "encoder": ENCODER, "model": model})
    seen = losses(system, toy_sound_batch())
    assert seen[-1] < 0.5 * seen[0], seen


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", list(CELLS))
def test_each_cell_learns_the_caption_toy(cell, bidirectional):
    torch.manual_seed(0)
    model = {"vocab_size": 7, "hidden_size": 16, "embed_dim": 8, "cell": cell, "bidirectional": bidirectional}
    system = build_system({"kind": "caption", "encoder": ENCODER, "model": model})
    batch = toy_caption_batch()
    seen = losses(system, batch)
    assert seen[-1] < 0.5 * seen[0], seen
    hyps = system.generate_from_features(batch.video.data, batch.video.lengths, beam_size=2, max_len=4)
    assert [h[0].tokens for h in hyps] == batch.tokens[:, 1:-1].tolist()


def test_training_configs_check_the_cell_when_loaded(tiny_config):
    gru = {**TINY["sound"]["system"]["model"], "cell": "gru"}
    assert tiny_config("sound", system={"model": gru}).system["model"]["cell"] == "gru"
    with pytest.raises(ConfigError, match=r"Invalid system\.model\.cell 'tanh'\. Supported: lstm, gru, rnn"):
        tiny_config("caption", system={"model": {"cell": "tanh"}})
