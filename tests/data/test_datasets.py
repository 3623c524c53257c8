"""Sound and caption datasets on generated clips: typed examples, aligned targets, collate shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avseq.bundles.preprocessing import Preprocessing
from avseq.data.clips import align_to_video
from avseq.data.collate import collate_caption, collate_sound
from avseq.data.datasets import CaptionDataset, SoundDataset
from avseq.errors import ConfigError
from avseq.models.tokenizer import BOS_ID, EOS_ID, PAD_ID, Tokenizer
from avseq.transforms.mel import duration_frames, get_recipe
from avseq.types import Audio, FrameBatch

# (H, W) = (17, 22): unequal, so a swapped height/width shows up.
PREP = Preprocessing(frame_size=(17, 22), fps=15.0, mel="default", frame_transform="resize")


@pytest.fixture(scope="module")
def sound(tiny_entries):
    return SoundDataset(tiny_entries[:3], PREP)


def test_sound_example_shapes_and_alignment(sound):
    ex = sound[0]
    entry = sound.entry(0)
    t = len(ex.video)
    assert ex.video.data.shape == (t, 3, 17, 22) and ex.video.data.dtype == torch.float32
    assert float(ex.video.data.min()) >= 0.0 and float(ex.video.data.max()) <= 1.0
    assert t == round(entry.duration * 15)
    assert float(ex.video.pts[1] - ex.video.pts[0]) == pytest.approx(1 / 15)
    recipe = get_recipe("default")
    assert ex.target.shape == (recipe.n_mels, duration_frames(entry.duration, recipe))
    assert ex.frame_rate == 100.0 and ex.duration == pytest.approx(entry.duration)


def test_sound_target_rises_at_each_event(sound):
    """The log-mel target is on the video timeline: energy jumps at each event's time."""
    for i in range(len(sound)):
        ex, entry = sound[i], sound.entry(i)
        energy = ex.target.exp().sum(dim=0)
        for event in entry.events:
            k = round(event.time * ex.frame_rate)
            before = energy[max(0, k - 6) : max(1, k - 2)].mean()
            after = energy[k : k + 4].mean()
            assert after > 3 * before, (entry.id, event.time, float(before), float(after))


def test_align_to_video_pads_late_and_cuts_early_audio():
    wave = torch.arange(1, 11, dtype=torch.float32)[None]
    late = align_to_video(Audio(wave, sample_rate=10, start=0.2), duration=1.0)
    assert late.tolist() == [0, 0, 1, 2, 3, 4, 5, 6, 7, 8]
    early = align_to_video(Audio(wave, sample_rate=10, start=-0.3), duration=1.0)
    assert early.tolist() == [4, 5, 6, 7, 8, 9, 10, 0, 0, 0]


def test_collate_sound_pads_frames_and_targets(sound):
    items = [sound[i] for i in range(3)]
    batch = collate_sound(items)
    assert isinstance(batch.video, FrameBatch)
    assert batch.video.lengths.tolist() == [len(x.video) for x in items]
    assert batch.target.lengths.tolist() == [x.target.shape[1] for x in items]
    t_max = max(len(x.video) for x in items)
    tp_max = max(x.target.shape[1] for x in items)
    assert batch.video.data.shape == (3, t_max, 3, 17, 22)
    assert batch.target.data.shape == (3, 64, tp_max) and batch.target.frame_rate == 100.0
    for i, x in enumerate(items):
        n = x.target.shape[1]
        assert torch.equal(batch.target.data[i, :, :n], x.target)
        assert not batch.target.data[i, :, n:].any()
        assert torch.equal(batch.video.clip(i).data, x.video.data)
    assert batch.ids == [x.id for x in items]
    # the manifest's sound times travel with each clip (what ``loss.onset_labels: events`` reads)
    assert batch.onsets == tuple(tuple(sound.entry(i).onsets) for i in range(3))
    assert all(batch.onsets)


def test_caption_dataset_tokens_choices_and_collate(tiny_entries):
    tok = Tokenizer.build(c for e in tiny_entries for c in e.captions)
    ds = CaptionDataset(tiny_entries[:3], PREP, tok, caption_choice="all")
    assert len(ds) == sum(len(e.captions) for e in tiny_entries[:3])
    ex = ds[1]
    assert ex.targets == (tiny_entries[0].captions[1],) and ex.references == tiny_entries[0].captions
    (tokens,) = ex.tokens
    assert tokens[0] == BOS_ID and tokens[-1] == EOS_ID and tok.decode(tokens) == ex.targets[0]
    batch = collate_caption([ds[0], ds[3], ds[6]])
    lengths = [len(ds[i].tokens[0]) for i in (0, 3, 6)]
    assert batch.tokens.shape == (3, max(lengths)) and batch.token_lengths.tolist() == lengths
    assert all((batch.tokens[i, n:] == PAD_ID).all() for i, n in enumerate(lengths))
    assert batch.rows.tolist() == [0, 1, 2]
    assert batch.video.data.shape[:2] == (3, max(len(ds[i].video) for i in (0, 3, 6)))


def test_random_caption_choice_is_seeded_per_epoch(tiny_entries):
    tok = Tokenizer.build(c for e in tiny_entries for c in e.captions)
    ds = CaptionDataset(tiny_entries, PREP, tok, caption_choice="random", seed=1)
    pick = lambda: [ds.make_example(i, ds.load_video(0)).targets for i in range(len(ds))]  # noqa: E731
    first = pick()
    assert first == pick()
    picks = set()
    for epoch in range(1, 6):
        ds.set_epoch(epoch)
        picks.add(tuple(pick()))
    assert len(picks) > 1


def test_several_captions_per_clip_are_distinct_seeded_and_batched_clip_by_clip(tiny_entries):
    tok = Tokenizer.build(c for e in tiny_entries for c in e.captions)
    one = CaptionDataset(tiny_entries, PREP, tok, seed=3)
    two = CaptionDataset(tiny_entries, PREP, tok, seed=3, captions_per_clip=2)
    every = CaptionDataset(tiny_entries, PREP, tok, seed=3, captions_per_clip=99)
    video = one.load_video(0)
    for i, entry in enumerate(tiny_entries):
        assert len(entry.captions) >= 2
        # one caption per clip: the same draw as before the option existed
        rng = np.random.default_rng([3, 0, i])
        assert one.make_example(i, video).targets == (entry.captions[int(rng.integers(len(entry.captions)))],)
        pair = two.make_example(i, video).targets
        assert len(set(pair)) == 2 and set(pair) <= set(entry.captions)
        assert sorted(every.make_example(i, video).targets) == sorted(entry.captions)
    draws = set()
    for epoch in range(6):
        two.set_epoch(epoch)
        draws.add(tuple(two.make_example(i, video).targets for i in range(len(two))))
    assert len(draws) > 1  # redrawn each epoch
    examples = [two.make_example(i, video) for i in range(3)]
    batch = collate_caption(examples)
    assert batch.rows.tolist() == [0, 0, 1, 1, 2, 2] and len(batch.ids) == 3
    assert batch.captions == [c for e in examples for c in e.targets]
    assert [tok.decode(batch.tokens[r, : batch.token_lengths[r]]) for r in range(6)] == batch.captions
    with pytest.raises(ConfigError, match="captions_per_clip must be >= 1"):
        CaptionDataset(tiny_entries, PREP, tok, caption_choice="all", captions_per_clip=2)


def test_dataset_errors_name_the_problem(tiny_entries):
    no_mel = Preprocessing(frame_size=(16, 16), fps=15.0)
    with pytest.raises(ConfigError, match="SoundDataset needs preprocessing.mel"):
        SoundDataset(tiny_entries, no_mel)
    tok = Tokenizer.build(["a b"])
    with pytest.raises(ConfigError, match=r"Invalid caption_choice 'best'\. Supported: random, first, all"):
        CaptionDataset(tiny_entries, PREP, tok, caption_choice="best")
    with pytest.raises(ConfigError, match="at least one manifest entry"):
        SoundDataset([], PREP)
