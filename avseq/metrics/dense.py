"""Dense video captioning scores, as ActivityNet Captions scores them: pure functions over timed
captions.

An event is ``(start, end, caption)`` in seconds; a reference event's caption may be a sequence
of captions (all its references). At a temporal IoU threshold ``t``:

- precision: the fraction of predicted events that overlap some reference event with tIoU >= t;
- recall: the fraction of reference events that some predicted event overlaps with tIoU >= t;

each computed per clip and averaged over clips (a clip with no predictions has precision 0),
then F1 of the two means. Caption quality at ``t``: METEOR / CIDEr of every (prediction,
reference) pair that overlaps with tIoU >= t, scored as one corpus (:func:`caption_scores`),
and ``matched``: the fraction of predictions that have such a pair (the predictions that
ActivityNet's evaluator scores 0 for lack of one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from avseq.metrics.captions import caption_scores

TIOU_THRESHOLDS = (0.3, 0.5, 0.7, 0.9)
TimedCaption = tuple[float, float, str | Sequence[str]]


def tiou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Temporal IoU of two ``(start, end)`` spans in seconds (0 when they do not overlap)."""
    inter = min(a[1], b[1]) - max(a[0], b[0])
    union = max(a[1], b[1]) - min(a[0], b[0])
    return max(inter, 0.0) / union if union > 0 else 0.0


def matches(
    predicted: Sequence[TimedCaption], reference: Sequence[TimedCaption], threshold: float
) -> list[tuple[int, int]]:
    """Every pair ``(prediction index, reference index)`` whose spans overlap with tIoU >= ``threshold``."""
    return [
        (i, j)
        for i, p in enumerate(predicted)
        for j, r in enumerate(reference)
        if tiou(p[:2], r[:2]) >= threshold
    ]


def span_precision_recall(
    predicted: Mapping[str, Sequence[TimedCaption]],
    reference: Mapping[str, Sequence[TimedCaption]],
    threshold: float,
) -> dict[str, float]:
    """``{"precision", "recall", "f1"}`` at ``threshold``, averaged over the clips of ``reference``."""
    precisions, recalls = [], []
    for clip, refs in reference.items():
        preds = predicted.get(clip, ())
        pairs = matches(preds, refs, threshold)
        precisions.append(len({i for i, _ in pairs}) / len(preds) if preds else 0.0)
        recalls.append(len({j for _, j in pairs}) / len(refs) if refs else 1.0)
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def matched_caption_scores(
    predicted: Mapping[str, Sequence[TimedCaption]],
    reference: Mapping[str, Sequence[TimedCaption]],
    threshold: float,
    metrics: Sequence[str] = ("METEOR", "CIDEr"),
) -> dict[str, float]:
    """``metrics`` over every (prediction, reference) pair overlapping with tIoU >= ``threshold``,
    plus ``pairs`` (their number) and ``matched`` (the fraction of predictions in a pair);
    the metrics are 0 when no pair overlaps (METEOR absent without Java)."""
    refs, preds, n_pred, n_matched = {}, {}, 0, 0
    for clip, clip_refs in reference.items():
        clip_preds = predicted.get(clip, ())
        pairs = matches(clip_preds, clip_refs, threshold)
        n_pred += len(clip_preds)
        n_matched += len({i for i, _ in pairs})
        for i, j in pairs:
            key = f"{clip}#{i}#{j}"
            ref = clip_refs[j][2]
            preds[key], refs[key] = clip_preds[i][2], [ref] if isinstance(ref, str) else list(ref)
    out: dict[str, float] = {"pairs": float(len(preds)), "matched": n_matched / n_pred if n_pred else 0.0}
    if preds:
        scores = caption_scores(refs, preds, metrics)
        out.update({k: float(v) for k, v in scores.items() if k != "tokenizer"})
    else:
        out.update({m: 0.0 for m in metrics})
    return out


def dense_caption_scores(
    predicted: Mapping[str, Sequence[TimedCaption]],
    reference: Mapping[str, Sequence[TimedCaption]],
    thresholds: Sequence[float] = TIOU_THRESHOLDS,
    metrics: Sequence[str] = ("METEOR", "CIDEr"),
) -> dict[str, dict[str, float]]:
    """Per threshold (keyed ``"tIoU=0.5"``) the span precision / recall / F1 and the matched-span
    caption scores, plus ``"mean"``: each figure averaged over the thresholds."""
    out = {
        f"tIoU={t}": {
            **span_precision_recall(predicted, reference, t),
            **matched_caption_scores(predicted, reference, t, metrics),
        }
        for t in thresholds
    }
    keys = set.intersection(*(set(v) for v in out.values())) if out else set()
    out["mean"] = {k: sum(v[k] for v in out.values()) / len(thresholds) for k in sorted(keys)}
    return out
