"""Systems built from plain configs: every kind runs, features split cleanly, errors name keys."""

import json
import urllib.error

import pytest
import torch

from avseq.errors import ConfigError
from avseq.models import SYSTEMS, CaptionSystem, ConcatEncoder, SoundSystem, build_system

ENCODER = {"name": "compact", "out_dim": 16, "width": 4, "depth": 2}
CONFIGS = {
    "sound": {"n_mels": 6, "video_fps": 8.0, "mel_frame_rate": 20.0, "hidden_size": 8, "num_layers": 1},
    "caption": {"vocab_size": 9, "hidden_size": 8, "embed_dim": 4},
    "classify": {"num_classes": 3, "hidden_size": 8},
    "frame_caption": {"vocab_size": 9, "hidden_size": 8, "embed_dim": 4},
    "dense_caption": {"vocab_size": 9, "hidden_size": 8, "embed_dim": 4, "proposal_hidden": 4},
}


def make(kind, **encoder):
    return build_system({"kind": kind, "encoder": {**ENCODER, **encoder}, "model": CONFIGS[kind]}).eval()


def clips():
    g = torch.Generator().manual_seed(0)
    return torch.rand(2, 5, 3, 11, 17, generator=g), torch.tensor([5, 3])


def test_every_kind_builds_and_runs():
    frames, lengths = clips()
    tokens = torch.tensor([[1, 5, 6], [1, 7, 2]])
    with torch.no_grad():
        mel, mel_len = make("sound")(frames, lengths)
        assert mel.shape == (2, 6, 13) and mel_len.tolist() == [13, 8]
        assert make("caption")(frames, lengths, tokens).shape == (2, 3, 9)
        assert make("classify")(frames, lengths).shape == (2, 3)
        assert make("frame_caption")(frames, lengths, tokens).shape == (2, 3, 9)
        dense = make("dense_caption")
        assert dense(frames, lengths, tokens).shape == (2, 3, 9)
        assert dense.proposal_logits(dense.features(frames, lengths), lengths).shape == (2, 5, 3)
    for kind in ("caption", "frame_caption", "dense_caption"):
        out = make(kind).generate(frames, lengths, beam_size=3, max_len=4, n_best=2)
        assert len(out) == 2 and all(len(h) == 2 and len(h[0].tokens) <= 4 for h in out)
    assert sorted(SYSTEMS) == ["caption", "classify", "dense_caption", "frame_caption", "sound"]


@pytest.mark.parametrize("motion", [False, True])
def test_features_then_from_features_equals_forward(motion):
    frames, lengths = clips()
    sound = make("sound", motion=motion)
    assert isinstance(sound, SoundSystem)
    with torch.no_grad():
        feats = sound.features(frames, lengths)
        torch.testing.assert_close(sound.from_features(feats, lengths)[0], sound(frames, lengths)[0])
    caption = make("caption", motion=motion)
    assert isinstance(caption, CaptionSystem)
    feats = caption.features(frames, lengths)
    assert [h[0].tokens for h in caption.generate_from_features(feats, lengths)] == [
        h[0].tokens for h in caption.generate(frames, lengths)
    ]


def test_frame_caption_features_then_from_features_equals_forward():
    frames, lengths = clips()
    single = make("frame_caption")
    feats = single.features(frames, lengths)
    assert feats.shape == (2, 5, 16)
    tokens = torch.tensor([[1, 5], [1, 6]])
    with torch.no_grad():
        torch.testing.assert_close(
            single.from_features(feats, lengths, tokens), single(frames, lengths, tokens)
        )
    opts = {"beam_size": 2, "max_len": 4}
    assert [h[0].tokens for h in single.generate_from_features(feats, lengths, **opts)] == [
        h[0].tokens for h in single.generate(frames, lengths, **opts)
    ]


def test_a_list_of_encoders_concatenates_their_features():
    config = {
        "kind": "caption",
        "encoder": [ENCODER, {**ENCODER, "out_dim": 8, "frozen": True}],
        "model": CONFIGS["caption"],
    }
    system = build_system(config).eval()
    assert isinstance(system.encoder, ConcatEncoder) and system.encoder.out_dim == 24
    assert system.model.input_proj.in_features == 24 and not system.encoder.frozen
    frames, lengths = clips()
    with torch.no_grad():
        first, second = (e(frames, lengths) for e in system.encoder.members)
        torch.testing.assert_close(system.features(frames, lengths), torch.cat([first, second], -1))
    assert second.shape == (2, 5, 8) and torch.all(second[1, 3:] == 0)
    rebuilt = build_system(json.loads(json.dumps(system.config)))
    rebuilt.load_state_dict(system.state_dict())
    for e in system.encoder.members:
        e.freeze()
    assert system.encoder.frozen


def test_config_round_trips_through_json():
    system = make("caption")
    again = build_system(json.loads(json.dumps(system.config))).eval()
    again.load_state_dict(system.state_dict())
    frames, lengths = clips()
    tokens = torch.tensor([[1, 5], [1, 6]])
    with torch.no_grad():
        torch.testing.assert_close(again(frames, lengths, tokens), system(frames, lengths, tokens))


def test_bundles_can_skip_named_encoder_weights(monkeypatch):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    config = {
        "kind": "classify",
        "encoder": {"name": "resnet18", "weights": "DEFAULT"},
        "model": {"num_classes": 2},
    }
    system = build_system(config, load_weights=False)
    assert system.config["encoder"]["weights"] == "DEFAULT"


@pytest.mark.parametrize(
    "config, message",
    [
        ({"kind": "speech", "encoder": ENCODER}, r"Invalid system kind 'speech'\. Supported: sound, caption"),
        (
            {"kind": "sound", "encoder": ENCODER, "extra": 1},
            r"Unknown system config key 'extra'\. Supported: kind",
        ),
        ({"kind": "sound", "encoder": {"out_dim": 4}}, r"'encoder' must be a dict with a 'name'"),
        ({"kind": "sound", "encoder": []}, r"'encoder' must be a dict .* or a list of such dicts"),
        ({"kind": "sound", "encoder": [ENCODER, {"width": 4}]}, r"or a list of such dicts"),
        ({"kind": "sound", "encoder": {"name": "vgg"}}, r"unknown frame encoder 'vgg'; known: compact"),
        (
            {"kind": "sound", "encoder": ENCODER, "model": {"n_mel": 4}},
            r"Unknown model option 'n_mel' .* n_mels",
        ),
        ({"kind": "caption", "encoder": ENCODER, "model": {}}, r"model option 'vocab_size' is required"),
        ({"kind": "sound", "encoder": ENCODER, "model": {"in_dim": 3}}, r"in_dim 3 differs .* out_dim 16"),
        (
            {"kind": "sound", "encoder": ENCODER, "model": {"cell": "elman"}},
            r"Invalid model\.cell 'elman'\. Supported: lstm, gru, rnn",
        ),
        (
            {
                "kind": "frame_caption",
                "encoder": ENCODER,
                "model": {**CONFIGS["frame_caption"], "bidirectional": True},
            },
            r"model\.bidirectional: kind 'frame_caption' has no such option: a decoder generates each token "
            r"from the ones before it, so it runs forward only; bidirectional applies to encoders",
        ),
        ({"kind": "sound", "encoder": ENCODER, "model": {"upsample": "x"}}, r"model: Invalid upsample 'x'"),
        (
            {
                "kind": "frame_caption",
                "encoder": {**ENCODER, "motion": True},
                "model": CONFIGS["frame_caption"],
            },
            r"kind 'frame_caption' encodes one frame per clip, so its encoder cannot use motion",
        ),
        (
            {
                "kind": "frame_caption",
                "encoder": [ENCODER, {**ENCODER, "frame_stride": 2}],
                "model": CONFIGS["frame_caption"],
            },
            r"cannot use motion or a frame_stride",
        ),
    ],
)
def test_bad_configs_name_the_key_and_the_choices(config, message):
    with pytest.raises(ConfigError, match=message):
        build_system(config)


@pytest.mark.parametrize("kind", ["caption", "frame_caption"])
def test_captioning_systems_sample_with_gradients_into_the_decoder(kind):
    system = make(kind)
    frames, lengths = clips()
    torch.manual_seed(0)
    tokens, token_lengths, log_prob = system.sample_from_features(
        system.features(frames, lengths), lengths, samples=3, max_len=6
    )
    batch = frames.shape[0]
    assert tokens.shape[0] == token_lengths.shape[0] == log_prob.shape[0] == batch * 3
    assert int(token_lengths.max()) <= 6 and bool((log_prob < 0).all())
    assert not ({system.model.bos_id, system.model.pad_id} & set(tokens.flatten().tolist()))  # masked out
    log_prob.sum().backward()
    assert any(p.grad is not None and float(p.grad.abs().sum()) > 0 for p in system.model.parameters())
