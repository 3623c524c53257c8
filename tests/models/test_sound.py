"""SoundModel: duration-based mel lengths, interpolation, batch consistency, loss, overfitting."""

import pytest
import torch

from avseq.models import SoundModel, mel_lengths, onset_strength, sound_loss
from avseq.models.sound import resample_time


def features_batch(lengths, dim=12, seed=0):
    """Random features (B, T, dim); padded positions hold garbage so masking is tested."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(len(lengths), max(lengths), dim, generator=g), torch.tensor(lengths)


def test_mel_lengths_follow_duration_with_non_integer_ratio():
    # 15 fps video, 16 kHz / hop 256 = 62.5 mel frames per second: ratio 4.1666...
    assert mel_lengths(torch.tensor([15, 10, 1]), 15.0, 62.5).tolist() == [63, 42, 4]
    assert mel_lengths(torch.tensor([24]), 24.0, 86.1328125).tolist() == [86]


def test_output_shape_lengths_and_zero_padding():
    model = SoundModel(12, n_mels=10, video_fps=15.0, mel_frame_rate=62.5, hidden_size=16).eval()
    feats, lengths = features_batch([15, 10])
    mel, out_len = model(feats, lengths)
    assert out_len.tolist() == [63, 42] and mel.shape == (2, 10, 63)
    assert torch.all(mel[1, :, 42:] == 0)
    mel, out_len = model(feats, lengths, out_lengths=torch.tensor([60, 45]))
    assert out_len.tolist() == [60, 45] and mel.shape == (2, 10, 60)


def test_resample_time_interpolates_between_frame_centres():
    x = torch.arange(4, dtype=torch.float32).view(1, 4, 1)  # value k at frame k, centre (k + 0.5) / fps
    out = resample_time(x, torch.tensor([4]), torch.tensor([9]), video_fps=2.0, mel_frame_rate=4.0)
    # mel frame j at j / 4 s -> frame position j / 2 - 0.5, clamped to [0, 3]
    expected = torch.tensor([0.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.0])
    torch.testing.assert_close(out[0, :, 0], expected)


def test_hold_puts_each_mel_frame_on_the_video_frame_that_covers_it():
    x = torch.arange(4, dtype=torch.float32).view(1, 4, 1)  # frame k covers [k / 2, (k + 1) / 2) s
    out = resample_time(x, torch.tensor([4]), torch.tensor([9]), 2.0, 4.0, mode="hold")
    torch.testing.assert_close(out[0, :, 0], torch.tensor([0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 3.0]))
    with pytest.raises(ValueError, match="Invalid interpolation 'cubic'. Supported: linear, hold"):
        resample_time(x, torch.tensor([4]), torch.tensor([9]), 2.0, 4.0, mode="cubic")


@pytest.mark.parametrize("interpolation", ["linear", "hold"])
@pytest.mark.parametrize("upsample", ["input", "output"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padded_batch_matches_each_clip_alone(bidirectional, upsample, interpolation):
    torch.manual_seed(0)
    model = SoundModel(
        12, n_mels=6, video_fps=8.0, mel_frame_rate=21.5, hidden_size=10, num_layers=2,
        bidirectional=bidirectional, upsample=upsample, interpolation=interpolation,
    ).eval()  # fmt: skip
    feats, lengths = features_batch([9, 4, 6])
    with torch.no_grad():
        mel, out_len = model(feats, lengths)
        for b in range(3):
            n = int(lengths[b])
            alone, alone_len = model(feats[b : b + 1, :n], lengths[b : b + 1])
            assert int(alone_len) == int(out_len[b])
            torch.testing.assert_close(mel[b, :, : int(out_len[b])], alone[0], atol=1e-5, rtol=1e-4)


def test_loss_ignores_padding_and_weights_onsets():
    target = torch.zeros(1, 4, 10)
    target[..., 5:] = 3.0  # the sound starts at frame 5
    lengths = torch.tensor([8])
    pred = target.clone()
    pred[..., 9] = 100.0  # beyond the length: ignored
    assert float(sound_loss(pred, target, lengths)) == 0.0
    assert onset_strength(target)[0].nonzero().flatten().tolist() == [5]
    at_onset, elsewhere = target.clone(), target.clone()
    at_onset[..., 5] += 1.0
    elsewhere[..., 2] += 1.0
    assert float(sound_loss(at_onset, target, lengths)) == pytest.approx(
        float(sound_loss(elsewhere, target, lengths))
    )
    weighted = float(sound_loss(at_onset, target, lengths, onset_weight=4.0))
    assert weighted > float(sound_loss(elsewhere, target, lengths, onset_weight=4.0))
    assert weighted == pytest.approx(5.0 / (8 + 4.0))  # weight 5 on the error, total weight 8 + 4
    with pytest.raises(ValueError, match="Invalid loss kind 'l3'. Supported: l1, mse"):
        sound_loss(pred, target, lengths, kind="l3")


def test_floor_hides_target_differences_below_it():
    lengths = torch.tensor([10])
    silent, hissing = torch.full((1, 4, 10), -11.5), torch.full((1, 4, 10), -5.6)
    for t in (silent, hissing):
        t[..., 6:] = 1.0  # the same impact over two different noise floors
    pred = torch.full((1, 4, 10), -5.0)
    assert float(sound_loss(pred, silent, lengths, kind="mse")) != float(sound_loss(pred, hissing, lengths))
    floored = [float(sound_loss(pred, t, lengths, onset_weight=2.0, floor=-5.0)) for t in (silent, hissing)]
    assert floored[0] == floored[1] and floored[0] > 0  # only the impact frames still differ


def test_eval_mode_renders_output_at_the_floor_as_the_quiet_level():
    model = SoundModel(12, n_mels=4, video_fps=15.0, mel_frame_rate=62.5, hidden_size=8, floor=-5.0)
    quiet = torch.tensor([-9.0, -8.0, -7.0, -6.0])
    model.init_level(torch.full((4,), -5.0), quiet)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor([-5.1, -4.8, -4.6, 1.0]))  # at the floor x2, just above, loud
    feats, lengths = features_batch([15])
    raw = model(feats, lengths, raw=True)[0][0, :, 0]
    rendered = model(feats, lengths)[0][0, :, 0]
    torch.testing.assert_close(raw, torch.tensor([-5.1, -4.8, -4.6, 1.0]))  # the loss sees these
    torch.testing.assert_close(rendered, torch.tensor([-9.0, -8.0, -4.6, 1.0]))
    assert "quiet_level" in model.state_dict() and "quiet_level" not in SoundModel(12, n_mels=4).state_dict()
    with pytest.raises(ValueError, match="needs a SoundModel built with a floor"):
        SoundModel(12, n_mels=4).init_level(torch.zeros(4), quiet)


@pytest.mark.parametrize(("upsample", "steps"), [("output", 15), ("input", 63)])
def test_onset_head_gives_one_logit_per_rnn_step(upsample, steps):
    model = SoundModel(
        12, n_mels=6, video_fps=15.0, mel_frame_rate=62.5, hidden_size=8, upsample=upsample, onset_head=True
    ).eval()
    feats, lengths = features_batch([15, 10])
    mel, out_len, onsets = model(feats, lengths, with_onsets=True)
    assert onsets.shape == (2, steps) and model.onset_rate == (15.0 if upsample == "output" else 62.5)
    torch.testing.assert_close(mel, model(feats, lengths)[0])  # the head changes nothing else
    with pytest.raises(ValueError, match="onset_head=True"):
        SoundModel(12, n_mels=6, hidden_size=8)(feats, lengths, with_onsets=True)


def test_overfits_a_tiny_batch():
    torch.manual_seed(0)
    feats, lengths = features_batch([6, 4], dim=8)
    model = SoundModel(8, n_mels=8, video_fps=6.0, mel_frame_rate=15.0, hidden_size=48, num_layers=1)
    out_len = model.out_lengths(lengths)
    target = torch.randn(2, 8, int(out_len.max()), generator=torch.Generator().manual_seed(1))
    opt = torch.optim.Adam(model.parameters(), lr=2e-2)
    losses = []
    for _ in range(200):
        mel, _ = model(feats, lengths, out_len)
        loss = sound_loss(mel, target, out_len, kind="mse")
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if losses[-1] < 0.05 * losses[0]:
            break
    assert losses[-1] < 0.1 * losses[0], (losses[0], losses[-1])


def test_no_nans_on_a_long_sequence_with_clipping():
    torch.manual_seed(0)
    model = SoundModel(8, n_mels=4, video_fps=30.0, mel_frame_rate=30.0, hidden_size=16, num_layers=2)
    feats, lengths = features_batch([2000, 1500], dim=8)
    feats = feats * 50  # badly scaled inputs
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(2):
        mel, out_len = model(feats, lengths)
        loss = sound_loss(mel, torch.randn_like(mel) * 10, out_len)
        opt.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        assert torch.isfinite(norm)
        opt.step()
    assert torch.isfinite(mel).all() and all(torch.isfinite(p).all() for p in model.parameters())


def test_bad_options_name_the_value_and_choices():
    with pytest.raises(ValueError, match="Invalid upsample 'middle'. Supported: input, output"):
        SoundModel(8, upsample="middle")
    from avseq.errors import ConfigError

    with pytest.raises(ConfigError, match="Invalid cell 'lstmm'. Supported: lstm, gru, rnn"):
        SoundModel(8, cell="lstmm")


def test_render_quiet_is_what_the_model_renders_and_is_a_no_op_without_a_floor():
    model = SoundModel(12, n_mels=4, video_fps=15.0, mel_frame_rate=62.5, hidden_size=8, floor=-5.0)
    model.init_level(torch.full((4,), -5.0), torch.tensor([-9.0, -8.0, -7.0, -6.0]))
    target = torch.tensor([[-7.0, -4.0, -4.95, 0.5]])  # (T, n_mels): below, above, within the margin
    torch.testing.assert_close(model.render_quiet(target), torch.tensor([[-9.0, -4.0, -7.0, 0.5]]))
    assert torch.equal(SoundModel(12, n_mels=4).render_quiet(target), target)
