"""iter_sampled: one decode for several samplings, each getting exactly its own frames."""

from __future__ import annotations

import pytest
import torch

from avseq.io import decode_video
from avseq.io.geometry import Cover, cover_size
from avseq.io.sampling import Sampling, TaggedTimes
from avseq.io.windows import iter_sampled
from tests.io.conftest import frame_ids

SAMPLINGS = [Sampling(fps=8.0), Sampling(fps=3.0), Sampling(num_frames=5)]


def _alone(path, sampling: Sampling, **kwargs) -> list[int]:
    return frame_ids(decode_video(path, fps=sampling.fps, num_frames=sampling.num_frames, **kwargs).data)


@pytest.mark.parametrize("mode", ["fast", "exact"])
@pytest.mark.parametrize("name", ["gop", "vfr"])
def test_each_sampling_gets_exactly_its_frames(media, mode, name):
    """Rates that do not divide each other (8 and 3 fps of a 20 fps file) and uniform frames."""
    [w] = list(iter_sampled(media[name], SAMPLINGS, mode=mode))
    for sampling, picks in zip(SAMPLINGS, w.picks, strict=True):
        assert frame_ids(w.frames.data[picks]) == _alone(media[name], sampling, mode=mode)
    assert len(w.frames) < sum(len(p) for p in w.picks)  # shared times are decoded once


def test_windows_pick_per_window(media):
    windows = list(iter_sampled(media["gop"], [Sampling(fps=5.0), Sampling(num_frames=1)], window=2.5))
    assert [(w.start, w.end) for w in windows] == [(0.0, 2.5), (2.5, 5.0), (5.0, 6.0)]
    assert [frame_ids(w.frames.data[w.picks[1]]) for w in windows] == [[25], [75], [110]]
    fives = torch.cat([w.frames.data[w.picks[0]] for w in windows])
    assert torch.equal(fives, decode_video(media["gop"], fps=5.0).data)


def test_a_byte_budget_cuts_windows_without_losing_frames(media):
    whole = decode_video(media["gop"], fps=5.0)
    frame_bytes = whole.data[0].numel()
    windows = list(iter_sampled(media["gop"], [Sampling(fps=5.0)], window=30, max_bytes=7 * frame_bytes))
    assert [len(w.frames) for w in windows] == [7, 7, 7, 7, 2]
    # what travels with a window (its storage, pickled whole) stays within the budget too
    assert all(w.frames.data.untyped_storage().nbytes() <= 8 * frame_bytes for w in windows)
    assert torch.equal(torch.cat([w.frames.data for w in windows]), whole.data)
    bounds = [(w.start, w.end) for w in windows]
    assert bounds[0][0] == 0.0 and bounds[-1][1] == pytest.approx(6.0)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))  # contiguous


def test_no_sampling_is_every_frame(media):
    [w] = list(iter_sampled(media["odd"], []))
    assert frame_ids(w.frames.data) == [0, 1, 2, 3, 4] and w.picks == ()


def test_cover_scales_in_the_decoder_to_the_largest_need(media):
    """17x11 frames covering 6x6 and 4x9: the aspect is kept and nothing is scaled up."""
    [w] = list(iter_sampled(media["odd"], [], size=Cover(((6, 6), (4, 9)))))
    assert tuple(w.frames.data.shape[-2:]) == (6, 9)  # covers (6, 6) -> (6, 9); (4, 9) -> (6, 9)
    [w] = list(iter_sampled(media["odd"], [], size=Cover(((64, 64),))))
    assert tuple(w.frames.data.shape[-2:]) == (11, 17)


def test_cover_size_is_the_fit_rule():
    assert cover_size(2160, 3840, (64, 64)) == (64, 114)
    assert cover_size(3840, 2160, (112, 112)) == (199, 112)
    assert cover_size(480, 640, (120, 80)) == (120, 160)
    assert Cover(((64, 64), (112, 112))).output(2160, 3840) == (112, 199)
    with pytest.raises(ValueError, match="Invalid Cover sizes"):
        Cover(((0, 4),))


def test_tagged_times_merge_and_tag():
    times = TaggedTimes([iter([0.0, 0.5, 1.0]), iter([0.0, 1 / 3, 2 / 3, 1.0 + 1e-9])])
    out = list(times)
    assert out == [0.0, 1 / 3, 0.5, 2 / 3, 1.0]
    assert [times.tags(t) for t in out] == [{0, 1}, {1}, {0}, {1}, {0, 1}]
