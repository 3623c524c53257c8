"""Event spans from per-frame scores, their targets and the dense captioning system."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avseq.models import build_system
from avseq.models.proposals import (
    frame_span,
    proposal_loss,
    span_features,
    span_iou,
    span_labels,
    span_seconds,
    spans_from_scores,
)


def _scores(frames: int, starts=(), ends=(), inside=()) -> np.ndarray:
    p = np.full((frames, 3), 0.05)
    p[list(starts), 0] = 0.9
    p[list(ends), 2] = 0.9
    for first, last in inside:
        p[first : last + 1, 1] = 0.95
    return p


def test_one_event_from_its_boundaries():
    assert spans_from_scores(_scores(10, [2], [5], [(2, 5)])) == [(2, 5)]


def test_overlapping_events_are_told_apart_by_their_boundaries():
    # event A frames 1..6, event B frames 4..9: inside covers 1..9 as one run
    p = _scores(12, starts=[1, 4], ends=[6, 9], inside=[(1, 9)])
    assert sorted(spans_from_scores(p, nms=1.0)) == [(1, 6), (1, 9), (4, 6), (4, 9)]  # every pair
    # equal scores, ties by span: (1, 6) first; (1, 9) IoU 6/9 and (4, 6) IoU 3/6 with it go
    assert sorted(spans_from_scores(p, nms=0.4)) == [(1, 6), (4, 9)]


def test_without_boundaries_the_inside_runs_are_the_events():
    p = _scores(12, inside=[(0, 2), (6, 10)])
    assert sorted(spans_from_scores(p)) == [(0, 2), (6, 10)]


def test_a_pair_with_a_gap_inside_is_not_an_event():
    p = _scores(12, starts=[0, 7], ends=[2, 10], inside=[(0, 2), (7, 10)])
    assert sorted(spans_from_scores(p)) == [(0, 2), (7, 10)]  # not (0, 10): frames 3..6 are outside


def test_nms_min_frames_and_max_spans():
    p = _scores(20, starts=[0, 10], ends=[1, 18], inside=[(0, 1), (10, 18)])
    assert spans_from_scores(p, min_frames=3) == [(10, 18)]
    assert len(spans_from_scores(p, max_spans=1)) == 1
    with pytest.raises(ValueError, match=r"scores must be \(T, 3\)"):
        spans_from_scores(np.zeros((4, 2)))


def test_frames_and_seconds_round_trip():
    assert frame_span(0.5, 1.25, fps=4.0, frames=20) == (2, 4)
    assert span_seconds((2, 4), 4.0) == (0.5, 1.25)
    assert frame_span(4.9, 9.0, fps=4.0, frames=20) == (19, 19)  # clipped to the clip
    assert span_iou((0, 3), (2, 5)) == pytest.approx(2 / 6)


def test_labels_and_loss():
    labels = span_labels([(1, 3), (2, 5)], 7)
    assert labels[:, 0].tolist() == [0, 1, 1, 0, 0, 0, 0]
    assert labels[:, 1].tolist() == [0, 1, 1, 1, 1, 1, 0]
    assert labels[:, 2].tolist() == [0, 0, 0, 1, 0, 1, 0]
    logits = torch.where(labels.bool(), 8.0, -8.0)[None]
    good = proposal_loss(logits, torch.tensor([7]), labels[None])
    bad = proposal_loss(-logits, torch.tensor([7]), labels[None])
    assert good < 0.01 < bad
    # padded frames do not count
    padded = torch.cat([logits, torch.full((1, 3, 3), 8.0)], 1)
    assert proposal_loss(padded, torch.tensor([7]), torch.cat([labels, torch.zeros(3, 3)])[None]) == good


def test_span_features_gathers_each_span():
    feats = torch.arange(2 * 6 * 1, dtype=torch.float32).reshape(2, 6, 1)
    data, lengths = span_features(feats, [(0, 1, 2), (1, 0, 4)])
    assert lengths.tolist() == [2, 5]
    assert data[0, :2, 0].tolist() == [1, 2] and data[1, :, 0].tolist() == [6, 7, 8, 9, 10]


def test_dense_system_captions_each_proposed_span():
    system = build_system({
        "kind": "dense_caption", "encoder": {"name": "compact", "out_dim": 8, "width": 4, "depth": 2},
        "model": {"vocab_size": 9, "hidden_size": 8, "embed_dim": 8, "proposal_hidden": 4},
    }).eval()  # fmt: skip
    feats, lengths = torch.randn(2, 9, 8), torch.tensor([9, 5])
    assert system.proposal_logits(feats, lengths).shape == (2, 9, 3)
    spans = [[(0, 3), (2, 8)], []]
    hyps = system.caption_spans_from_features(feats, spans, beam_size=1, max_len=4)
    assert [len(h) for h in hyps] == [2, 0]
    alone = system.generate_from_features(feats[:1, 2:9], torch.tensor([7]), beam_size=1, max_len=4)
    assert hyps[0][1][0].tokens == alone[0][0].tokens  # a span is captioned as a clip of its frames
