"""Feature cache: hit on the second epoch, no decoding then, invalidated by preprocessing or weights."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from avseq.bundles.preprocessing import Preprocessing
from avseq.data.collate import collate_caption, collate_sound, pad_video
from avseq.data.datasets import CaptionDataset, FramesWithCache, SoundDataset
from avseq.data.feature_cache import CachedFeatureDataset, FeatureCache, weights_hash
from avseq.models.tokenizer import Tokenizer
from avseq.types import Features, Frames

PREP = Preprocessing(frame_size=(16, 20), fps=15.0, mel="default", frame_transform="resize")


class MeanColour(nn.Module):
    """(B, T, 3, H, W) -> (B, T, 4): a linear map of each frame's mean colour."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(3, 4)

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.proj(frames.mean(dim=(-2, -1)))


def _encoder(seed: int = 0) -> MeanColour:
    torch.manual_seed(seed)
    return MeanColour()


class CountingSound(SoundDataset):
    """SoundDataset that counts how often frames and targets are decoded."""

    decodes = 0
    targets = 0

    def load_video(self, index):
        self.decodes += 1
        return super().load_video(index)

    def target(self, index):
        self.targets += 1
        return super().target(index)


@pytest.mark.parametrize("known_duration", [True, False])
def test_second_epoch_hits_the_cache_and_decodes_nothing(tmp_path, tiny_entries, known_duration):
    entries = [e if known_duration else dataclasses.replace(e, duration=None) for e in tiny_entries[:3]]
    ds = CountingSound(entries, PREP)
    cache = FeatureCache(tmp_path / "cache", _encoder(), "mean-colour", PREP)
    cached = CachedFeatureDataset(ds, cache)
    first = [cached[i] for i in range(3)]
    assert (cache.stats.hits, cache.stats.misses) == (0, 3) and (ds.decodes, ds.targets) == (3, 3)
    second = [cached[i] for i in range(3)]
    assert (cache.stats.hits, cache.stats.misses) == (3, 3) and (ds.decodes, ds.targets) == (3, 3)
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a.video, b.video) and torch.equal(a.target, b.target) and a.duration == b.duration
    frames = ds.load_video(1)
    expected = cache.encoder(frames.data[None], torch.tensor([len(frames)]))[0]
    assert torch.allclose(second[1].video, expected) and second[1].video.shape == (len(frames), 4)
    batch = collate_sound(second)
    assert isinstance(batch.video, Features) and batch.video.data.shape == (
        3,
        max(len(x.video) for x in second),
        4,
    )
    assert batch.video.lengths.tolist() == [len(x.video) for x in second]


def test_cache_persists_across_instances_and_is_invalidated(tmp_path, tiny_entries):
    entries = tiny_entries[:2]
    root = tmp_path / "cache"

    def run(prep: Preprocessing, seed: int = 0) -> FeatureCache:
        cache = FeatureCache(root, _encoder(seed), "mean-colour", prep)
        ds = CachedFeatureDataset(SoundDataset(entries, prep), cache)
        for i in range(len(ds)):
            ds[i]
        return cache

    assert run(PREP).stats.misses == 2
    again = run(PREP)
    assert (again.stats.hits, again.stats.misses) == (2, 0)
    assert (again.store.stats["targets"].hits, again.store.stats["targets"].misses) == (2, 0)
    other_size = dataclasses.replace(PREP, frame_size=(20, 16))
    assert run(other_size).stats.misses == 2
    other_fps = dataclasses.replace(PREP, fps=7.5)
    assert run(other_fps).stats.misses == 2
    assert run(PREP, seed=1).stats.misses == 2


def test_changed_file_content_misses(tmp_path, tiny_entries):
    import shutil

    clip = tmp_path / "clip.mp4"
    shutil.copy(tiny_entries[0].path, clip)
    entry = dataclasses.replace(tiny_entries[0], path=clip)
    cache = FeatureCache(tmp_path / "cache", _encoder(), "mean-colour", PREP)
    ds = CachedFeatureDataset(SoundDataset([entry], PREP), cache, cache_targets=False)
    a = ds[0].video
    shutil.copy(tiny_entries[1].path, clip)
    b = ds[0].video
    assert cache.stats.misses == 2 and not (a.shape == b.shape and torch.equal(a, b))


def test_corrupt_cache_file_is_recomputed(tmp_path, tiny_entries):
    cache = FeatureCache(tmp_path / "cache", _encoder(), "mean-colour", PREP)
    ds = CachedFeatureDataset(SoundDataset(tiny_entries[:1], PREP), cache, cache_targets=False)
    good = ds[0].video
    (stored,) = (tmp_path / "cache").rglob("*.safetensors")
    stored.write_bytes(stored.read_bytes()[:20])
    again = ds[0].video
    assert cache.stats.misses == 2 and torch.equal(good, again)


def test_cached_captions_and_weights_hash(tmp_path, tiny_entries):
    tok = Tokenizer.build(c for e in tiny_entries for c in e.captions)
    base = CaptionDataset(tiny_entries[:2], PREP, tok, caption_choice="first")
    cached = CachedFeatureDataset(base, FeatureCache(tmp_path, _encoder(), "mean-colour", PREP))
    batch = collate_caption([cached[0], cached[1]])
    assert isinstance(batch.video, Features) and batch.tokens.shape[0] == 2
    assert batch.captions == [tiny_entries[0].captions[0], tiny_entries[1].captions[0]]
    assert weights_hash(_encoder(0)) == weights_hash(_encoder(0)) != weights_hash(_encoder(1))
    with pytest.raises(ValueError, match="different preprocessing"):
        CachedFeatureDataset(
            base, FeatureCache(tmp_path, _encoder(), "x", dataclasses.replace(PREP, fps=5.0))
        )


class DropoutColour(MeanColour):
    def __init__(self) -> None:
        super().__init__()
        self.drop = nn.Dropout(0.5)

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.drop(super().forward(frames, lengths))


def test_features_are_computed_in_eval_mode_and_mode_is_restored(tmp_path, tiny_entries):
    encoder = DropoutColour().train()
    cache = FeatureCache(tmp_path / "a", encoder, "drop", PREP)
    other = FeatureCache(tmp_path / "b", encoder, "drop", PREP)
    ds = SoundDataset(tiny_entries[:1], PREP)
    a = cache.features(ds.entry(0).path, lambda: ds.load_video(0))
    b = other.features(ds.entry(0).path, lambda: ds.load_video(0))
    assert torch.equal(a, b) and encoder.training


def test_frames_with_cache_pad_their_features_with_the_frames():
    pts = torch.arange(3, dtype=torch.float64)
    a = FramesWithCache(Frames(torch.ones(3, 3, 4, 4), pts), torch.ones(3, 5))
    b = FramesWithCache(Frames(torch.ones(1, 3, 4, 4), pts[:1]), torch.full((1, 5), 2.0))
    batch = pad_video([a, b])
    assert batch.cached.shape == (2, 3, 5) and torch.all(batch.cached[1, 1:] == 0)
    assert batch.lengths.tolist() == [3, 1] and torch.equal(batch.frames.clip(1).data, b.frames.data)
    assert torch.equal(batch.cached[1, :1], b.cached) and batch.to("cpu").cached is not None
    with pytest.raises(ValueError, match="some clips have cached features, some not"):
        pad_video([a, b.frames])
    with pytest.raises(ValueError, match=r"FramesWithCache.cached must be \(T, D\) with T=3"):
        FramesWithCache(a.frames, torch.ones(2, 5))
