"""Frame encoders: shapes, padding, batch consistency, chunking, freezing, weights and errors."""

import pytest
import torch
from safetensors.torch import save_file

from avseq.errors import BundleError, ConfigError
from avseq.models import ENCODERS, build_encoder


def frames_batch(lengths, h=11, w=17, seed=0):
    """Random frames (B, T, 3, h, w) in [0, 1]; padded positions hold garbage, not zeros."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(len(lengths), max(lengths), 3, h, w, generator=g), torch.tensor(lengths)


def test_compact_shapes_and_zero_padding():
    enc = build_encoder("compact", out_dim=24, width=8).eval()
    frames, lengths = frames_batch([4, 2])
    out = enc(frames, lengths)
    assert out.shape == (2, 4, 24) and enc.out_dim == 24
    assert torch.all(out[1, 2:] == 0) and torch.all(out[1, :2].abs().sum(-1) > 0)
    with pytest.raises(ValueError, match=r"frames must be float in \[0, 1\], got torch.uint8"):
        enc((frames * 255).to(torch.uint8), lengths)
    with pytest.raises(ValueError, match=r"frames must be \(B, T, 3, H, W\), got \(4, 3, 11, 17\)"):
        enc(frames[0], lengths)


@pytest.mark.parametrize("name", ["compact", "resnet18"])
def test_padded_batch_matches_each_clip_alone(name):
    enc = build_encoder(name, chunk_size=3).eval()
    frames, lengths = frames_batch([3, 1, 2], h=32, w=24)
    with torch.no_grad():
        together = enc(frames, lengths)
        for b, n in enumerate(lengths.tolist()):
            alone = enc(frames[b : b + 1, :n], lengths[b : b + 1])
            torch.testing.assert_close(together[b, :n], alone[0], atol=1e-5, rtol=1e-4)


def test_compact_grid_pool_keeps_where_things_are_and_avg_stays_the_default():
    default = build_encoder("compact", out_dim=8, width=4, depth=2)
    assert default.backbone.pool == "avg" and default.backbone.proj.in_features == 8
    # same keys and shapes as before the option existed, so saved bundles still load
    assert {k: tuple(v.shape) for k, v in default.state_dict().items() if "proj" in k} == {
        "backbone.proj.weight": (8, 8), "backbone.proj.bias": (8,)
    }  # fmt: skip
    grid = build_encoder("compact", out_dim=8, width=4, depth=2, pool="grid", grid=2).eval()
    assert grid.backbone.proj.in_features == 8 * 2 * 2
    # each grid cell reaches the projection on its own: the map's 2x2 cell means, flattened
    frames, lengths = frames_batch([3], h=16, w=16)
    backbone = grid.backbone
    cells = backbone.features((frames[0] - grid.mean) / grid.std).unflatten(2, (2, 2)).unflatten(4, (2, 2))
    expected = backbone.proj(cells.mean((3, 5)).flatten(1))
    assert torch.allclose(grid(frames, lengths)[0], expected, atol=1e-5)
    with pytest.raises(ConfigError, match=r"Invalid pool 'max'\. Supported: avg, grid"):
        build_encoder("compact", pool="max")


def test_compact_stem_keeps_full_resolution_for_one_block():
    stem = build_encoder("compact", out_dim=8, width=4, depth=2, stem_width=3).eval()
    convs = [m for m in stem.backbone.features if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.stride) for c in convs] == [(3, (1, 1)), (4, (2, 2)), (8, (2, 2))]
    images = torch.rand(2, 3, 16, 16)
    assert stem.backbone.features(images).shape == (2, 8, 4, 4)  # 16 px halved twice, not three times
    plain = build_encoder("compact", out_dim=8, width=4, depth=2)
    assert [m.stride for m in plain.backbone.features if isinstance(m, torch.nn.Conv2d)] == [(2, 2)] * 2
    with pytest.raises(ConfigError, match=r"stem_width must be >= 0, got -1"):
        build_encoder("compact", stem_width=-1)


def test_frame_stride_encodes_every_kth_frame_and_holds_it():
    torch.manual_seed(0)
    slow = build_encoder("compact", out_dim=6, width=4, depth=2, frame_stride=3).eval()
    every = build_encoder("compact", out_dim=6, width=4, depth=2).eval()
    every.load_state_dict(slow.state_dict())
    frames, lengths = frames_batch([7, 5])
    calls = []
    slow.backbone.register_forward_hook(lambda m, args, out: calls.append(len(args[0])))
    with torch.no_grad():
        held, full = slow(frames, lengths), every(frames, lengths)
    assert calls == [3 + 2]  # frames 0, 3, 6 of the first clip and 0, 3 of the second
    for b, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(held[b, :n], full[b, [t // 3 * 3 for t in range(n)]])
        assert torch.all(held[b, n:] == 0)
    with pytest.raises(ConfigError, match=r"frame_stride must be >= 1, got 0"):
        build_encoder("compact", frame_stride=0)
    with pytest.raises(ConfigError, match=r"motion needs every frame"):
        build_encoder("compact", motion=True, frame_stride=2)


def test_chunk_size_does_not_change_features():
    frames, lengths = frames_batch([7, 5])
    torch.manual_seed(0)
    a = build_encoder("compact", chunk_size=2).eval()
    b = build_encoder("compact", chunk_size=64).eval()
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(a(frames, lengths), b(frames, lengths))


def test_motion_encoder_sees_each_frame_and_its_difference_from_the_previous_one():
    enc = build_encoder("compact", out_dim=8, width=4, depth=2, motion=True, chunk_size=2).eval()
    assert enc.motion and enc.backbone.features[0].in_channels == 6
    frames, lengths = frames_batch([5, 3], h=16, w=16)
    with torch.no_grad():
        out = enc(frames, lengths)
        # what the backbone gets: normalized frames, then (frame - previous frame) / std, zero at t=0
        clip = frames[0]
        diff = torch.cat([torch.zeros_like(clip[:1]), clip[1:] - clip[:-1]]) / enc.std
        expected = enc.backbone(torch.cat([(clip - enc.mean) / enc.std, diff], 1))
        torch.testing.assert_close(out[0], expected, atol=1e-5, rtol=1e-4)
        # chunks and padding do not leak frames across clips: clip 1 alone gives the same
        torch.testing.assert_close(out[1, :3], enc(frames[1:, :3], lengths[1:])[0], atol=1e-5, rtol=1e-4)
        assert torch.all(out[1, 3:] == 0)
        # a still clip has no motion anywhere: every frame gets the first frame's features
        still = frames[:1, :1].expand(1, 4, -1, -1, -1)
        feats = enc(still, torch.tensor([4]))[0]
        assert torch.allclose(feats[1:], feats[:1].expand(3, -1), atol=1e-5)
        # single images (no clip order given) have no motion
        torch.testing.assert_close(enc.encode_images(clip[:1]), out[0, :1], atol=1e-5, rtol=1e-4)
    assert not build_encoder("compact").motion


def test_motion_needs_a_backbone_that_takes_six_channels():
    with pytest.raises(
        ConfigError, match=r"frame encoder 'resnet18' takes 3 channels only, so motion needs 'compact'"
    ):
        build_encoder("resnet18", motion=True)
    with pytest.raises(ConfigError, match=r"Unknown option 'in_channels' for frame encoder 'compact'"):
        build_encoder("compact", in_channels=6)


@pytest.mark.parametrize(
    "name, dim",
    [("resnet18", 512), ("resnet50", 2048), ("mobilenet_v3_small", 576), ("efficientnet_b0", 1280)],
)
def test_torchvision_backbones_drop_the_classifier(name, dim):
    enc = build_encoder(name).eval()
    frames, lengths = frames_batch([1], h=32, w=32)
    with torch.no_grad():
        assert enc(frames, lengths).shape == (1, 1, dim)
    assert enc.out_dim == dim


def test_frozen_encoder_has_no_grads_and_fixed_batchnorm():
    enc = build_encoder("compact", frozen=True).train()
    bn = next(m for m in enc.modules() if isinstance(m, torch.nn.BatchNorm2d))
    before = bn.running_mean.clone()
    frames, lengths = frames_batch([3])
    out = enc(frames, lengths)
    assert not out.requires_grad
    assert all(not p.requires_grad for p in enc.parameters())
    assert not bn.training and torch.equal(bn.running_mean, before)


def test_concat_encoder_takes_the_frozen_members_features_from_a_cache():
    from avseq.models.encoders import ConcatEncoder

    frozen = build_encoder("compact", out_dim=6, width=4, frozen=True)
    enc = ConcatEncoder([build_encoder("compact", out_dim=4, width=4), frozen]).eval()
    frames, lengths = frames_batch([3, 2])
    assert enc.partly_frozen and enc.frozen_part().members[0] is frozen
    cached = enc.frozen_part()(frames, lengths)
    assert cached.shape == (2, 3, 6)
    torch.testing.assert_close(enc(frames, lengths, cached), enc(frames, lengths))
    marked = enc(frames, lengths, torch.full_like(cached, 7.0))  # read, not recomputed
    assert torch.all(marked[..., 4:] == 7) and torch.equal(marked[..., :4], enc(frames, lengths)[..., :4])
    with pytest.raises(ValueError, match="cached features have 10 channels; the frozen members give 6"):
        enc(frames, lengths, torch.zeros(2, 3, 10))
    enc.freeze()  # frozen later (train.freeze_encoder_at): the cache still holds the same member
    assert enc.frozen and not enc.partly_frozen and enc.frozen_part().members[0] is frozen
    torch.testing.assert_close(enc(frames, lengths, cached), enc(frames, lengths))


def test_normalization_travels_with_the_weights(tmp_path):
    enc = build_encoder("compact", out_dim=16).eval()
    enc.mean.fill_(0.3)
    path = tmp_path / "enc.safetensors"
    save_file(enc.state_dict(), str(path))
    again = build_encoder("compact", out_dim=16, weights=str(path)).eval()
    assert torch.equal(again.mean, enc.mean)
    frames, lengths = frames_batch([2])
    with torch.no_grad():
        torch.testing.assert_close(again(frames, lengths), enc(frames, lengths))


def test_backbone_state_dict_loads_without_its_classifier(tmp_path):
    from torchvision.models import resnet18

    net = resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save(net.state_dict(), path)  # includes fc.weight / fc.bias, which are dropped
    enc = build_encoder("resnet18", weights=str(path))
    torch.testing.assert_close(enc.backbone.conv1.weight, net.conv1.weight)


def test_bad_weights_files_raise_bundle_errors(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a tensor file")
    with pytest.raises(BundleError, match="cannot read weights file"):
        build_encoder("compact", weights=str(bad))
    with pytest.raises(BundleError, match="does not exist"):
        build_encoder("compact", weights=str(tmp_path / "missing.pt"))
    small = tmp_path / "small.safetensors"
    save_file(build_encoder("compact", out_dim=8).state_dict(), str(small))
    with pytest.raises(BundleError, match="do not fit FrameEncoder"):
        build_encoder("compact", out_dim=16, weights=str(small))


def test_unknown_encoder_option_and_weights_list_the_choices():
    with pytest.raises(
        ConfigError, match=r"unknown frame encoder 'resnet7'; known: compact, efficientnet_b0"
    ):
        build_encoder("resnet7")
    with pytest.raises(ConfigError, match=r"Unknown option 'widht' .* Supported: out_dim, width, depth"):
        build_encoder("compact", widht=8)
    with pytest.raises(
        ConfigError, match=r"Unknown weights 'IMAGENET' for resnet18\. Supported: DEFAULT, IMAGENET1K_V1"
    ):
        build_encoder("resnet18", weights="IMAGENET")
    with pytest.raises(ConfigError, match="has no named weights"):
        build_encoder("compact", weights="DEFAULT")
    assert set(ENCODERS.list()) >= {
        "compact",
        "resnet18",
        "resnet50",
        "mobilenet_v3_small",
        "efficientnet_b0",
    }


def test_default_weights_absent_from_the_cache_name_the_file_and_never_download(tmp_path, monkeypatch):
    def download(url, *args, **kwargs):
        raise AssertionError(f"tried to download {url}")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty torch hub cache
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    expected = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    for name in ("DEFAULT", "IMAGENET1K_V1", "ResNet18_Weights.IMAGENET1K_V1"):
        with pytest.raises(BundleError, match="not in the torch hub cache: expected") as info:
            build_encoder("resnet18", weights=name)
        message = str(info.value)
        assert str(expected) in message and "download.pytorch.org" in message and "\n" not in message


def test_default_weights_are_read_from_the_torch_hub_cache(tmp_path, monkeypatch):
    from torchvision.models import resnet18

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    reference = resnet18(weights=None)
    cached = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    cached.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), cached)
    encoder = build_encoder("resnet18", weights="DEFAULT")
    torch.testing.assert_close(encoder.backbone.conv1.weight, reference.conv1.weight)
    cached.write_bytes(b"not a checkpoint")
    with pytest.raises(BundleError, match=f"cached resnet18 weights at {cached} are unreadable"):
        build_encoder("resnet18", weights="DEFAULT")
