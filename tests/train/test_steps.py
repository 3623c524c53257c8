"""A training step's parts: onset labels taken from the target audio, the optimizer's groups."""

import pytest
import torch

from avseq.train.steps import onset_labels, onset_loss
from avseq.types import Spectrogram


def impacts(times: list[float], seconds: float = 2.0, rate: float = 100.0, n_mels: int = 16) -> torch.Tensor:
    """A log-mel (n_mels, T) that is silent except for decaying impacts starting at ``times``."""
    t = torch.arange(int(seconds * rate)) / rate
    energy = torch.zeros_like(t)
    for start in times:
        energy += (t >= start) * torch.exp(-(t - start).clamp_min(0) / 0.05) * 10.0
    return (energy.clamp_min(1e-5).log() + torch.zeros(n_mels, 1)).float()


def test_onset_labels_mark_the_step_nearest_each_target_onset():
    a, b = impacts([0.4, 1.2]), impacts([0.8])
    target = Spectrogram(torch.stack([a, b]), torch.tensor([200, 150]), 100.0)
    labels = onset_labels(target, 15.0, 30)
    assert labels.shape == (2, 30)
    assert labels[0].nonzero().flatten().tolist() == [6, 18]  # round(0.4 * 15), round(1.2 * 15)
    assert labels[1].nonzero().flatten().tolist() == [12]
    silent = Spectrogram(torch.full((1, 16, 100), -11.5), torch.tensor([100]), 100.0)
    assert onset_labels(silent, 15.0, 15).sum() == 0


def test_known_onsets_replace_a_clips_audio_picks():
    a, b = impacts([0.4, 1.2]), impacts([0.8])
    target = Spectrogram(torch.stack([a, b]), torch.tensor([200, 150]), 100.0)
    # clip 0's annotation knows one hit the audio hides and not the other; clip 1 has none
    labels = onset_labels(target, 15.0, 30, known=[(0.6, 1.61), None])
    assert labels[0].nonzero().flatten().tolist() == [9, 24]
    assert labels[1].nonzero().flatten().tolist() == [12]  # its audio picks
    assert onset_labels(target, 15.0, 30, known=[(), None])[0].sum() == 0  # known silent


def test_onset_loss_ignores_padded_steps_and_weighs_rare_onsets():
    labels = torch.tensor([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    lengths = torch.tensor([4, 2])
    logits = torch.tensor([[-9.0, 9.0, -9.0, -9.0], [-9.0, -9.0, 50.0, 50.0]])  # pads say "onset"
    assert float(onset_loss(logits, lengths, labels)) < 1e-3
    missed = logits.clone()
    missed[0, 1] = -9.0
    false_alarm = logits.clone()
    false_alarm[0, 0] = 9.0
    assert float(onset_loss(missed, lengths, labels)) > 5 * float(onset_loss(false_alarm, lengths, labels))


@pytest.mark.parametrize("scale", [1.0, 0.1, 0.0])
def test_the_encoder_learns_at_its_own_rate_and_norms_do_not_decay(scale):
    from avseq.models import build_system
    from avseq.train.schedule import build_scheduler
    from avseq.train.steps import make_optimizer

    system = build_system(
        {
            "kind": "sound",
            "encoder": {"name": "compact", "out_dim": 8, "width": 4, "depth": 2},
            "model": {"n_mels": 4, "hidden_size": 8, "num_layers": 1},
        }
    )
    opt = make_optimizer(system, 0.01, 0.1, (0.9, 0.999), encoder_lr_scale=scale)
    sched = build_scheduler(opt, 10, 1, "cosine", 0.05)
    encoder = {id(p) for p in system.encoder.parameters()}
    seen = 0
    for group in opt.param_groups:
        for p in group["params"]:
            seen += 1
            expected = 0.01 * 0.5 * (scale if id(p) in encoder else 1.0)  # half the rate in warmup
            assert group["lr"] == pytest.approx(expected)
            assert group["weight_decay"] == (0.1 if p.dim() >= 2 else 0.0)
    assert seen == sum(1 for _ in system.parameters())
    opt.step()  # no gradients yet: changes nothing
    sched.step()  # warmup over: the base rates
    encoder_group = [g for g in opt.param_groups if id(g["params"][0]) in encoder]
    assert all(g["lr"] == pytest.approx(0.01 * scale) for g in encoder_group)
    assert all(g["lr"] == pytest.approx(0.01) for g in opt.param_groups if g not in encoder_group)


@pytest.mark.parametrize(
    ("kind", "model"),
    [
        ("caption", {"vocab_size": 12, "hidden_size": 8, "embed_dim": 6, "word_head": True}),
        ("frame_caption", {"vocab_size": 12, "hidden_size": 8, "embed_dim": 6}),
    ],
)
def test_a_clip_taught_several_captions_at_once_equals_that_clip_repeated_per_caption(kind, model):
    """Each clip is encoded once; the loss and every gradient match a batch that repeats the
    clip for each of its captions (dropout off, BatchNorm in eval mode, so both see the same)."""
    from avseq.data.collate import collate_caption
    from avseq.data.datasets import CaptionExample
    from avseq.models import build_system
    from avseq.train.steps import LossOptions, batch_loss
    from avseq.types import Frames

    torch.manual_seed(0)
    encoder = {"name": "compact", "out_dim": 8, "width": 4, "depth": 2}
    system = build_system({"kind": kind, "encoder": encoder, "model": model}).eval()
    videos = [Frames(torch.rand(n, 3, 16, 16), torch.arange(n) / 8.0) for n in (5, 3)]
    captions = [[[1, 4, 5, 2], [1, 6, 7, 8, 2], [1, 9, 2]], [[1, 10, 11, 2]]]
    shared = collate_caption(
        [
            CaptionExample(f"c{i}", v, tuple(torch.tensor(c) for c in caps), ("",) * len(caps), ())
            for i, (v, caps) in enumerate(zip(videos, captions, strict=True))
        ]
    )
    repeated = collate_caption(
        [
            CaptionExample(f"c{i}", v, (torch.tensor(c),), ("",), ())
            for i, (v, caps) in enumerate(zip(videos, captions, strict=True))
            for c in caps
        ]
    )
    assert shared.rows.tolist() == [0, 0, 0, 1] and len(repeated.ids) == 4
    options = LossOptions(label_smoothing=0.1, word_bce=0.5 if "word_head" in model else 0.0)
    grads = []
    for batch in (shared, repeated):
        system.zero_grad()
        loss = batch_loss(system, batch, options)
        loss.backward()
        grads.append((loss.detach(), [p.grad.clone() for p in system.parameters()]))
    torch.testing.assert_close(grads[0][0], grads[1][0])
    for a, b in zip(grads[0][1], grads[1][1], strict=True):
        torch.testing.assert_close(a, b)


def test_sound_loss_reads_the_batch_onsets_only_when_told():
    from avseq.data.collate import SoundBatch
    from avseq.models import build_system, sound_loss
    from avseq.train.steps import LossOptions, batch_loss
    from avseq.types import Features

    torch.manual_seed(0)
    config = {"kind": "sound", "encoder": {"name": "compact", "out_dim": 8, "width": 4, "depth": 2},
              "model": {"n_mels": 16, "video_fps": 15.0, "mel_frame_rate": 100.0, "hidden_size": 8,
                        "upsample": "output", "interpolation": "hold", "onset_head": True}}  # fmt: skip
    system = build_system(config).eval()
    feats, lengths = torch.randn(1, 30, 8), torch.tensor([30])
    target = Spectrogram(impacts([0.4, 1.2])[None], torch.tensor([200]), 100.0)
    batch = SoundBatch(["a"], Features(feats, lengths), target, lengths / 15.0, ((0.9,),))
    with torch.no_grad():
        mel, _, logits = system.from_features(feats, lengths, target.lengths, with_onsets=True, raw=True)
        base = sound_loss(mel, target.data, target.lengths)
        for source, known in (("audio", None), ("events", [(0.9,)])):
            got = batch_loss(system, batch, LossOptions(onset_bce=1.0, onset_labels=source))
            labels = onset_labels(target, 15.0, 30, known)
            torch.testing.assert_close(got, base + onset_loss(logits, lengths, labels))
