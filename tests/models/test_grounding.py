"""The grounded encoder: crops where its locator looks, learns where to look from true positions,
and is a frame encoder like the others to systems, feature caches and freezing."""

from __future__ import annotations

import pytest
import torch

from avseq.errors import ConfigError
from avseq.models.grounding import GroundedEncoder, crops
from avseq.models.systems import build_system

SMALL = {"out_dim": 8, "crop": 8, "window": 1, "width": 8}


def test_a_crop_is_centred_on_its_point_and_zero_outside_the_image():
    images = torch.zeros(2, 1, 16, 24)
    images[0, 0, 5, 7] = 1.0
    images[1, 0, 0, 0] = 2.0
    out = crops(images, torch.tensor([[7.5, 5.5], [0.5, 0.5]]), 6)
    assert out.shape == (2, 1, 6, 6)
    assert out[0, 0, 3, 3] == 1.0 and out[0].sum() == 1.0  # the point at the window's middle
    assert out[1, 0, 3, 3] == 2.0 and out[1, 0, :3].abs().sum() == 0  # beyond the corner: zeros
    far = crops(images[[0, 0]], torch.tensor([[500.0, -300.0], [7.5, 5.5]]), 6)
    assert far[0].abs().sum() == 0 and far[1, 0, 3, 3] == 1.0  # wholly outside: all zeros


def moving_square(batch: int = 4, steps: int = 6, h: int = 32, w: int = 48, seed: int = 0):
    """Frames of a bright square moving over a still, noisy scene with a dimmer still square;
    the moving one's centre (x, y) as fractions of the frame per frame."""
    g = torch.Generator().manual_seed(seed)
    frames = torch.rand(batch, 1, 3, h, w, generator=g).expand(batch, steps, 3, h, w).clone() * 0.3
    positions = torch.zeros(batch, steps, 2)
    for b in range(batch):
        sx, sy = (
            torch.randint(4, w - 8, (1,), generator=g).item(),
            torch.randint(4, h - 8, (1,), generator=g).item(),
        )
        frames[b, :, :, sy : sy + 4, sx : sx + 4] = 0.6  # a still square
        x0, y0 = (
            torch.randint(4, w - 20, (1,), generator=g).item(),
            torch.randint(4, h - 8, (1,), generator=g).item(),
        )
        for t in range(steps):
            x = x0 + 2 * t
            frames[b, t, :, y0 : y0 + 4, x : x + 4] = 1.0
            positions[b, t] = torch.tensor([(x + 2) / w, (y0 + 2) / h])
    return frames, positions


def test_features_are_per_frame_and_zero_on_padding_and_a_frozen_encoder_takes_no_gradient():
    enc = GroundedEncoder(**SMALL)
    frames, _ = moving_square(batch=2, steps=5)
    out = enc(frames, torch.tensor([5, 3]))
    assert out.shape == (2, 5, 8) and out[1, 3:].abs().sum() == 0 and out[1, :3].abs().sum() > 0
    enc.freeze()
    enc.train()
    assert not enc.training and not enc(frames, torch.tensor([5, 3])).requires_grad


@pytest.mark.parametrize("temporal", [0, 2])
def test_frames_in_chunks_give_the_features_of_all_at_once(temporal):
    torch.manual_seed(0)
    whole = GroundedEncoder(**SMALL, temporal=temporal, chunk_size=64).eval()
    chunked = GroundedEncoder(**SMALL, temporal=temporal, chunk_size=2).eval()
    chunked.load_state_dict(whole.state_dict())
    frames, _ = moving_square(batch=3, steps=5)
    lengths = torch.tensor([5, 2, 4])
    with torch.no_grad():
        assert torch.allclose(whole(frames, lengths), chunked(frames, lengths), atol=1e-6)


def test_supervised_crops_at_the_true_positions_and_the_locator_learns_them():
    torch.manual_seed(0)
    enc = GroundedEncoder(**SMALL)
    opt = torch.optim.Adam(enc.parameters(), 3e-3)
    lengths = torch.tensor([6, 6, 6, 6])
    for step in range(80):
        frames, positions = moving_square(seed=step)
        with enc.supervised(positions) as located:
            enc(frames, lengths)
        assert located.frames == 24  # every frame's square is in view
        opt.zero_grad()
        located.loss.backward()
        opt.step()
    enc.eval()
    frames, positions = moving_square(batch=8, seed=1000)
    mask = torch.ones(8, 6, dtype=torch.bool)
    found = enc.centres(enc.locate(frames, mask)).view(8, 6, 2)
    truth = positions * torch.tensor([48.0, 32.0])
    error = (found - truth).norm(dim=-1)[:, 1:]  # frame 0 has no change to see the mover by
    assert (error < 4).float().mean() > 0.8, error
    # supervised, the crops sit on the truth: the output changes when the truth moves
    with torch.no_grad(), enc.supervised(positions):
        a = enc(frames, torch.full((8,), 6))
    with torch.no_grad(), enc.supervised(positions.flip(0)):
        b = enc(frames, torch.full((8,), 6))
    assert not torch.allclose(a, b)


@pytest.mark.parametrize("temporal, reach", [(0, 1), (2, 4)])
def test_temporal_layers_see_the_frames_around_within_the_clip_only(temporal, reach):
    torch.manual_seed(0)
    enc = GroundedEncoder(**SMALL, temporal=temporal).eval()  # temporal 2: steps 1 and 2
    frames, _ = moving_square(batch=2, steps=8)
    mask = torch.arange(8)[None] < torch.tensor([[6], [5]])
    changed = frames.clone()
    changed[0, 5] = torch.rand_like(changed[0, 5])  # the first clip's last frame
    changed[:, 6:] = 1.0  # padding
    with torch.no_grad():
        moved = (enc.locate(changed, mask) - enc.locate(frames, mask)).flatten(1).abs().amax(1) > 1e-5
    # without temporal layers: the frame and the one before (its window of 1 sees the change);
    # with them, 1 + 2 frames further back
    assert moved[:6].tolist() == [False] * (5 - reach) + [True] * (reach + 1)
    assert not moved[6:].any()  # the other clip is the same
    changed = frames.clone()
    changed[1] = torch.rand_like(changed[1])  # all of the second clip
    with torch.no_grad():
        moved = (enc.locate(changed, mask) - enc.locate(frames, mask)).flatten(1).abs().amax(1) > 1e-5
    assert moved[6:].all() and not moved[:6].any()


def test_unknown_or_out_of_view_positions_teach_nothing():
    enc = GroundedEncoder(**SMALL)
    frames, positions = moving_square(batch=2, steps=3)
    positions[0] = float("nan")
    positions[1, 0] = torch.tensor([1.5, 0.5])  # beside the frame
    with enc.supervised(positions) as located:
        enc(frames, torch.tensor([3, 3]))
    assert located.frames == 2 and torch.isfinite(located.loss)
    positions[1] = float("nan")
    with enc.supervised(positions) as located:
        enc(frames, torch.tensor([3, 3]))
    assert located.frames == 0 and located.loss == 0


def test_systems_build_it_beside_other_members_and_refuse_bad_options():
    config = {
        "kind": "classify",
        "encoder": [{"name": "compact", "out_dim": 8, "width": 4, "depth": 2}, {"name": "grounded", **SMALL}],
        "model": {"hidden_size": 8, "attributes": {"colour": ["red", "blue"]}},
    }
    system = build_system(config)
    frames, _ = moving_square(batch=2, steps=4)
    logits = system(frames, torch.tensor([4, 2]))
    assert system.encoder.out_dim == 16 and logits.shape == (2, 2)
    for bad in ({"crop": 2}, {"stride": 8}, {"chunk_size": 0}, {"temporal": -1}, {"colour": 3}):
        with pytest.raises(ConfigError, match="grounded"):
            build_system({**config, "encoder": [{"name": "grounded", **bad}]})


def test_a_member_starts_from_the_grounded_encoder_of_a_saved_system(tmp_path):
    torch.manual_seed(0)
    compact = {"name": "compact", "out_dim": 8, "width": 4, "depth": 2}
    model = {"hidden_size": 8, "attributes": {"colour": ["red", "blue"]}}
    trained = build_system(
        {"kind": "classify", "encoder": [compact, {"name": "grounded", **SMALL}], "model": model}
    )
    path = tmp_path / "weights.pt"
    torch.save(trained.state_dict(), path)
    member = {"name": "grounded", **SMALL, "weights": str(path), "frozen": True}
    system = build_system({"kind": "classify", "encoder": [member, compact], "model": model})
    frames, _ = moving_square(batch=2, steps=4)
    lengths = torch.tensor([4, 3])
    taken, given = system.encoder.members[0], trained.encoder.members[1].eval()
    with torch.no_grad():
        assert torch.equal(taken(frames, lengths), given(frames, lengths))
    assert taken.frozen and not any(p.requires_grad for p in taken.parameters())
    torch.save({k: v for k, v in trained.state_dict().items() if ".members.1." not in k}, path)
    with pytest.raises(ConfigError, match="one grounded encoder, found none"):
        build_system({"kind": "classify", "encoder": [member], "model": model})
    twice = build_system({"kind": "classify", "encoder": [{"name": "grounded", **SMALL}] * 2, "model": model})
    torch.save(twice.state_dict(), path)
    with pytest.raises(ConfigError, match="found 2"):
        build_system({"kind": "classify", "encoder": [member], "model": model})
