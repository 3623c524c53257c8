"""Dense captioning scores (ActivityNet Captions): tIoU, span precision / recall, matched-span captions."""

from __future__ import annotations

import pytest

from avseq.metrics.dense import (
    dense_caption_scores,
    matched_caption_scores,
    matches,
    span_precision_recall,
    tiou,
)


def test_tiou_by_hand():
    assert tiou((0.0, 4.0), (2.0, 6.0)) == pytest.approx(2 / 6)
    assert tiou((1.0, 2.0), (1.0, 2.0)) == 1.0
    assert tiou((0.0, 1.0), (3.0, 4.0)) == 0.0
    assert tiou((0.0, 10.0), (2.0, 3.0)) == pytest.approx(0.1)


REFS = {
    "a": [(0.0, 4.0, "a red ball bounces"), (5.0, 9.0, "a blue cube slides")],
    "b": [(1.0, 3.0, "a hammer hits a bell")],
}
PREDS = {
    # tIoU with a's refs: (0, 4) vs (0, 3) = 0.75; (5, 9) vs (6, 10) = 3 / 5 = 0.6; (20, 21) matches none
    "a": [(0.0, 3.0, "a red ball bounces"), (6.0, 10.0, "a cube slides"), (20.0, 21.0, "a bell")],
    # (1, 3) vs (1.5, 2.5) = 0.5
    "b": [(1.5, 2.5, "a hammer hits a bell")],
}


def test_matches_by_hand():
    assert matches(PREDS["a"], REFS["a"], 0.5) == [(0, 0), (1, 1)]
    assert matches(PREDS["a"], REFS["a"], 0.7) == [(0, 0)]


@pytest.mark.parametrize(
    ("threshold", "precision", "recall"),
    [
        (0.3, (2 / 3 + 1) / 2, 1.0),
        (0.5, (2 / 3 + 1) / 2, 1.0),  # b's 0.5 counts: tIoU >= threshold
        (0.7, (1 / 3 + 0) / 2, (1 / 2 + 0) / 2),
        (0.9, 0.0, 0.0),
    ],
)
def test_precision_and_recall_per_clip_then_averaged(threshold, precision, recall):
    out = span_precision_recall(PREDS, REFS, threshold)
    assert out["precision"] == pytest.approx(precision)
    assert out["recall"] == pytest.approx(recall)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    assert out["f1"] == pytest.approx(f1)


def test_a_clip_without_predictions_counts_zero():
    out = span_precision_recall({"a": PREDS["a"]}, REFS, 0.5)
    assert out["precision"] == pytest.approx((2 / 3 + 0) / 2) and out["recall"] == pytest.approx(0.5)


def test_matched_span_captions_score_only_the_overlapping_pairs():
    pytest.importorskip("pycocoevalcap")
    perfect = matched_caption_scores(PREDS, REFS, 0.7, metrics=("CIDEr",))
    assert perfect["pairs"] == 1 and perfect["matched"] == pytest.approx(1 / 4)
    none = matched_caption_scores(PREDS, REFS, 0.95, metrics=("CIDEr",))
    assert none == {"pairs": 0.0, "matched": 0.0, "CIDEr": 0.0}


def test_dense_scores_have_every_threshold_and_their_mean():
    pytest.importorskip("pycocoevalcap")
    out = dense_caption_scores(PREDS, REFS, metrics=("CIDEr",))
    assert list(out) == ["tIoU=0.3", "tIoU=0.5", "tIoU=0.7", "tIoU=0.9", "mean"]
    assert {"precision", "recall", "f1", "CIDEr", "pairs", "matched"} <= set(out["mean"])
    rows = [out[f"tIoU={t}"]["recall"] for t in (0.3, 0.5, 0.7, 0.9)]
    assert out["mean"]["recall"] == pytest.approx(sum(rows) / 4)
