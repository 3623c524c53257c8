"""Mirrored training views (``data.mirror``): drawn per clip and epoch, replayed on resume, kept
apart in a frozen encoder's feature cache, and their captions' side words swapped."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from avseq.bundles.preprocessing import Preprocessing
from avseq.data.augment import MIRRORED, Mirror, WordSwap
from avseq.data.datasets import SoundDataset
from avseq.data.feature_cache import CachedFeatureDataset, FeatureCache
from avseq.train.data import MemoryCache, make_dataset

PREP = Preprocessing(frame_size=(16, 20), fps=15.0, mel="default", frame_transform="resize")


class LeftMinusRight(nn.Module):
    """(B, T, 3, H, W) -> (B, T, 3): each channel's left-half mean minus its right-half mean
    (its sign flips with the frame)."""

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        half = frames.shape[-1] // 2
        return frames[..., :half].mean(dim=(-2, -1)) - frames[..., -half:].mean(dim=(-2, -1))


def _views(ds: Mirror, epochs: int) -> list[list[str | None]]:
    out = []
    for epoch in range(epochs):
        ds.set_epoch(epoch)
        out.append([ds.variant(i) for i in range(len(ds))])
    return out


def test_views_are_drawn_per_clip_and_epoch_and_replayed_by_seed(tiny_entries):
    base = SoundDataset(tiny_entries, PREP)
    views = _views(Mirror(base, 0.5, seed=3), 4)
    flat = [v for epoch in views for v in epoch]
    assert flat.count(MIRRORED) and flat.count(None)  # both views occur over 24 draws
    assert len({tuple(epoch) for epoch in views}) > 1  # a clip's view changes between epochs
    assert _views(Mirror(base, 0.5, seed=3), 4) == views  # a fresh dataset (a resumed run) replays them
    assert _views(Mirror(base, 0.5, seed=4), 4) != views
    assert set(v for e in _views(Mirror(base, 0.0, seed=3), 4) for v in e) == {None}
    assert set(v for e in _views(Mirror(base, 1.0, seed=3), 4) for v in e) == {MIRRORED}
    with pytest.raises(ValueError, match=r"mirror probability must be in \[0, 1\], got 1.5"):
        Mirror(base, 1.5, seed=0)


def test_a_mirrored_example_has_flipped_frames_and_the_same_sound(tiny_entries):
    base = SoundDataset(tiny_entries[:2], PREP)
    ds = Mirror(MemoryCache(base), 1.0, seed=0)
    own = base[0]
    seen = ds[0]
    assert torch.equal(seen.video.data, own.video.data.flip(-1))
    assert torch.equal(seen.video.pts, own.video.pts)
    assert not torch.equal(seen.video.data, own.video.data)
    assert torch.equal(seen.target, own.target) and seen.duration == own.duration and seen.id == own.id
    assert torch.equal(ds.load_variant(0, None).data, own.video.data)
    with pytest.raises(ValueError, match="unknown variant 'upside-down'"):
        ds.load_variant(0, "upside-down")


def test_the_feature_cache_holds_both_views_and_serves_each_epoch_without_encoding(tmp_path, tiny_entries):
    base = SoundDataset(tiny_entries[:3], PREP)
    cache = FeatureCache(tmp_path / "cache", LeftMinusRight(), "left-minus-right", PREP)
    cached = CachedFeatureDataset(Mirror(MemoryCache(base), 0.5, seed=1), cache)
    stats = cached.precompute(progress=False)
    assert stats.misses == 2 * 3  # each clip in each view, encoded once
    views = _views(cached, 4)
    assert {v for epoch in views for v in epoch} == {None, MIRRORED}
    for epoch, seen in enumerate(views):
        cached.set_epoch(epoch)
        for i, view in enumerate(seen):
            frames = base.load_video(i)
            if view == MIRRORED:
                frames = frames.data.flip(-1)
            else:
                frames = frames.data
            expected = cache.encoder(frames[None], torch.tensor([len(frames)]))[0]
            assert torch.allclose(cached[i].video, expected, atol=1e-6)
    assert cache.stats.misses == 2 * 3  # nothing encoded after the precompute
    assert not torch.allclose(cached.features(0, None), cached.features(0, MIRRORED))


def test_only_training_sets_are_mirrored(tiny_entries):
    train = make_dataset("sound", tiny_entries, PREP, None, seed=0, train=True, mirror=0.5)
    val = make_dataset("sound", tiny_entries, PREP, None, seed=0, train=False, mirror=0.5)
    plain = make_dataset("sound", tiny_entries, PREP, None, seed=0, train=True)
    assert isinstance(train, Mirror) and train.p == 0.5
    assert not isinstance(val, Mirror) and not isinstance(plain, Mirror)


def test_a_mirrored_classify_example_has_its_object_where_the_mirrored_frames_show_it(tmp_path):
    from avseq.data.datasets import ClassifyDataset
    from avseq.data.manifest import Event, ManifestEntry
    from avseq.types import Frames

    track = tuple((0.5 + k / 10, 0.2 + k / 100, 0.6) for k in range(10))
    event = Event(0.5, "ball", "metal", "floor_hit", 1.0, end=1.5, action="bounce", track=track)
    ds = ClassifyDataset(
        [ManifestEntry(tmp_path / "x.mp4", "x", events=(event,))],
        Preprocessing.from_dict({"fps": 4, "frame_size": [8, 8]}),
        {"action": ["bounce"]},
    )
    video = Frames(torch.zeros(12, 3, 8, 8), torch.arange(12, dtype=torch.float64) / 4)
    own = ds.make_example(0, video)
    seen = Mirror(ds, 1.0, seed=0).make_example(0, video)
    assert seen.positions[:, 0].tolist() == pytest.approx([0.8, 0.775, 0.75, 0.725])
    assert torch.equal(seen.positions[:, 1], own.positions[:, 1]) and torch.equal(seen.labels, own.labels)
    assert torch.equal(Mirror(ds, 0.0, seed=0).make_example(0, video).positions, own.positions)
    assert Mirror(ds, 1.0, seed=0).make_example(0, torch.zeros(12, 5)).positions is None  # features


def test_side_words_swap_both_ways_as_whole_words():
    swap = WordSwap({"left": "right"})
    assert swap("the cube slides left and hits the wall") == "the cube slides right and hits the wall"
    assert swap("Right, then left") == "Left, then right"
    assert swap("leftover rights stay") == "leftover rights stay"
    assert WordSwap({})("slides left") == "slides left"


def test_a_mirrored_dense_caption_example_says_the_other_side(tmp_path):
    from avseq.data.datasets import DenseCaptionDataset
    from avseq.data.manifest import Event, ManifestEntry
    from avseq.models import Tokenizer
    from avseq.types import Frames

    captions = ("a red cube slides left into the wall", "the red cube moves left")
    events = (
        Event(0.5, "cube", "metal", "wall_hit", 1.0, end=1.5, action="slide", captions=captions),
        Event(2.0, "ball", "wood", "floor_hit", 1.0, end=2.5, action="bounce", captions=("a ball bounces",)),
    )
    tok = Tokenizer.build([*captions, "a ball bounces", "slides right", "moves right"])
    entry = ManifestEntry(tmp_path / "x.mp4", "x", events=events)
    ds = DenseCaptionDataset([entry], Preprocessing.from_dict({"fps": 4, "frame_size": [8, 8]}), tok, "first")
    video = Frames(torch.zeros(12, 3, 8, 8), torch.arange(12, dtype=torch.float64) / 4)
    own = ds.make_example(0, video)
    seen = Mirror(ds, 1.0, seed=0, words={"left": "right"}).make_example(0, video)
    assert seen.targets == ("a red cube slides right into the wall", "a ball bounces")
    assert seen.references == (
        ("a red cube slides right into the wall", "the red cube moves right"),
        ("a ball bounces",),
    )
    assert [tok.decode(t.tolist()) for t in seen.tokens] == list(seen.targets)
    assert torch.equal(seen.tokens[1], own.tokens[1]) and not torch.equal(seen.tokens[0], own.tokens[0])
    assert seen.spans == own.spans and seen.times == own.times
    # unmirrored in an epoch, or without words, the captions are the clip's own
    assert Mirror(ds, 0.0, seed=0, words={"left": "right"}).make_example(0, video).targets == own.targets
    assert Mirror(ds, 1.0, seed=0).make_example(0, video).targets == own.targets
