"""Gradient and gate diagnostics: per-layer gradient norms, the fraction of steps clipped and gate
saturation land in the training log with sane values, and the training report plots them."""

import csv
import math

import pytest
import torch

from avseq.data.collate import CaptionBatch, SoundBatch
from avseq.models import build_system
from avseq.report import write_training_report
from avseq.report.training import panels
from avseq.train import diagnostics, train
from avseq.train.steps import LossOptions
from avseq.types import Features, FrameBatch, Spectrogram
from tests.train.conftest import ENCODER, TINY

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models (tests/conftest.py)


def _rows(run_dir):
    with (run_dir / "log.csv").open() as f:
        return list(csv.DictReader(f))


def _sound_system(cell="lstm", bidirectional=True):
    model = {
        "n_mels": 4, "video_fps": 10.0, "mel_frame_rate": 10.0, "hidden_size": 8, "num_layers": 2,
        "cell": cell, "bidirectional": bidirectional, "upsample": "output",
    }  # fmt: skip
    torch.manual_seed(0)
    return build_system({"kind": "sound", "encoder": ENCODER, "model": model})


def _sound_batch(feats, lengths):
    target = torch.zeros(feats.shape[0], 4, int(lengths.max()))
    return SoundBatch(
        ["x"] * len(lengths), Features(feats, lengths), Spectrogram(target, lengths, 10.0), lengths
    )


def test_layers_are_recurrent_layers_and_modules_with_a_weight_matrix():
    system = _sound_system()
    groups = diagnostics.layer_groups(system)
    owned = [id(p) for params in groups.values() for p in params]
    assert sorted(owned) == sorted(id(p) for p in system.parameters())  # each parameter once
    assert list(groups)[:2] == ["encoder.backbone.features.0", "encoder.backbone.features.3"]
    assert len(groups["encoder.backbone.features.0"]) == 3  # the convolution and its BatchNorm
    rnn = [name for name in groups if name.startswith("model.rnn")]
    assert rnn == ["model.rnn.0.fwd", "model.rnn.0.bwd", "model.rnn.1.fwd", "model.rnn.1.bwd"]
    assert all(len(groups[name]) == 4 for name in rnn)  # weight_ih, weight_hh, bias_ih, bias_hh


def test_plan_lists_the_columns_of_what_is_switched_on():
    system = _sound_system("gru", bidirectional=False)
    both = diagnostics.plan(system, True, 50)
    assert "grad_norm/model.rnn.1" in both.columns and "gate_sat/model.rnn.1.update" in both.columns
    assert both.probe_due(100) and not both.probe_due(75)
    off = diagnostics.plan(system, False, None)
    assert off.columns == [] and off.groups == {} and not off.probe_due(100)


def test_saturation_counts_valid_steps_only_and_leaves_the_system_as_it_was():
    system = _sound_system()
    g = torch.Generator().manual_seed(0)
    clip = torch.randn(1, 5, 16, generator=g)
    padded = torch.cat([clip, 1e3 * torch.ones(1, 3, 16)], 1)  # garbage after the clip's 5 frames
    before = [p.clone() for p in system.parameters()]
    rng = torch.get_rng_state()
    alone = diagnostics.gate_saturation(system, _sound_batch(clip, torch.tensor([5])), LossOptions(), "cpu")
    with_padding = diagnostics.gate_saturation(
        system, _sound_batch(padded, torch.tensor([5])), LossOptions(), "cpu"
    )
    assert alone == pytest.approx(with_padding)
    assert set(alone) == {f"gate_sat/model.rnn.{k}.{d}.{g}" for k in (0, 1) for d in ("fwd", "bwd")
                          for g in ("input", "forget", "output")}  # fmt: skip
    assert all(0.0 <= v <= 1.0 for v in alone.values())
    assert system.training and torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(a, b) for a, b in zip(before, system.parameters(), strict=True))


def test_saturation_skips_decoder_steps_fed_padding():
    torch.manual_seed(0)
    model = {"vocab_size": 9, "hidden_size": 8, "embed_dim": 4, "cell": "gru"}
    system = build_system({"kind": "caption", "encoder": ENCODER, "model": model})
    with torch.no_grad():  # large weights: some gates saturate, so counting a step shows
        for p in system.model.decoder.parameters():
            p.mul_(8.0)

    def batch(tokens):
        feats = Features(torch.randn(1, 4, 16, generator=torch.Generator().manual_seed(1)), torch.tensor([4]))
        return CaptionBatch(
            ["x"], feats, torch.tensor([tokens]), torch.tensor([3]), ["c"], [("c",)], torch.tensor([0])
        )

    short = diagnostics.gate_saturation(system, batch([1, 5, 6, 2]), LossOptions(), "cpu")
    padded = diagnostics.gate_saturation(system, batch([1, 5, 6, 2, 0, 0, 0]), LossOptions(), "cpu")
    assert short == pytest.approx(padded)
    assert {k.rsplit(".", 1)[1] for k in short} == {"reset", "update"}
    assert any(0.0 < v < 1.0 for v in short.values())


def test_the_log_records_the_diagnostics_and_the_report_plots_them(tiny_config):
    result = train(tiny_config("caption", train={"saturation_every": 2}))
    rows = _rows(result.run_dir)
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    for row in rows:
        layers = {k: float(v) for k, v in row.items() if k.startswith("grad_norm/") and v}
        assert {
            "grad_norm/model.encoder.0",
            "grad_norm/model.decoder.0",
            "grad_norm/encoder.backbone.proj",
        } <= set(layers)
        assert all(v > 0 for v in layers.values())
        # the layers partition the parameters, so their norms make up the total (before clipping)
        assert math.sqrt(sum(v * v for v in layers.values())) == pytest.approx(
            float(row["grad_norm"]), rel=1e-3
        )
        assert 0.0 <= float(row["clip_frac"]) <= 1.0
        gates = {k: float(v) for k, v in row.items() if k.startswith("gate_sat/") and v}
        assert (len(gates) == 6) == (int(row["step"]) % 2 == 0)  # encoder and decoder: input, forget, output
        assert all(0.0 <= v <= 1.0 for v in gates.values())
    html = write_training_report(result.run_dir).read_text(encoding="utf-8")
    assert "<img class='plot' src='report_curves.png'" in html
    assert "<td>gate_sat/model.decoder.0.forget</td>" in html and "<td>grad_norm/model.decoder.0</td>" in html
    families = [p for p in panels(list(rows[0])) if len(p) > 1]
    assert [p[0] for p in families] == ["loss", "grad_norm", "gate_sat/model.encoder.0.input"]
    assert (result.run_dir / "report_curves.png").stat().st_size > 20_000


def test_an_exploding_run_clips_on_most_steps(tiny_config):
    """A plain tanh RNN at a learning rate of 3: the loss and the gradients blow up after the first
    step, every later step is clipped, and the recurrent units sit saturated."""
    model = {**TINY["sound"]["system"]["model"], "cell": "rnn"}
    cfg = tiny_config(
        "sound", system={"model": model}, optim={"lr": 3.0, "warmup_steps": 0, "weight_decay": 0.0},
        loss={"kind": "mse"}, train={"steps": 8, "log_every": 4, "val_every": 8, "saturation_every": 4},
    )  # fmt: skip
    rows = _rows(train(cfg).run_dir)
    assert [int(r["step"]) for r in rows] == [4, 8]
    assert [float(r["clip_frac"]) for r in rows] == [0.75, 1.0]  # all but the first step
    assert float(rows[-1]["gate_sat/model.rnn.0.tanh"]) > 0.5


def test_a_frozen_encoders_sample_is_encoded_once():
    system = _sound_system()
    g = torch.Generator().manual_seed(0)
    pts = torch.arange(5, dtype=torch.float64)[None].repeat(2, 1) / 10
    frames = FrameBatch(torch.rand(2, 5, 3, 11, 17, generator=g), pts, torch.tensor([5, 3]))
    batch = SoundBatch(
        ["a", "b"], frames, Spectrogram(torch.zeros(2, 4, 5), torch.tensor([5, 3]), 10.0), pts[:, 0]
    )
    assert diagnostics.fixed_features(system, batch) is batch  # the encoder still learns
    system.encoder.freeze()
    cached = diagnostics.fixed_features(system, batch)
    assert isinstance(cached.video, Features) and cached.video.data.shape == (2, 5, 16)
    on_frames = diagnostics.gate_saturation(system, batch, LossOptions(), "cpu")
    assert diagnostics.gate_saturation(system, cached, LossOptions(), "cpu") == pytest.approx(on_frames)
