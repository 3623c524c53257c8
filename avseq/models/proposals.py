"""Event spans from per-frame scores, and the per-frame targets that teach them: pure functions.

A span is a pair of frame indices ``(first, last)``, both inside the span (``last >= first``);
at ``fps`` frames per second it covers ``[first / fps, (last + 1) / fps)`` seconds. Scores are
per frame, three channels: ``start`` (an event begins here), ``inside`` (an event covers this
frame) and ``end`` (an event's last frame). Overlapping events are told apart by their
boundaries: every start peak is paired with every later end peak, a pair is kept when every
frame from one to the other is inside, and overlapping pairs are thinned by non-maximum
suppression on their temporal IoU.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from avseq.models.rnn import length_mask
from avseq.types import pad_sequences

Span = tuple[int, int]
START, INSIDE, END = 0, 1, 2


def frame_span(start: float, end: float, fps: float, frames: int) -> Span:
    """The frames ``(first, last)`` of the span ``[start, end)`` seconds in a clip of ``frames``
    frames sampled at ``fps`` (frame i covers ``[i / fps, (i + 1) / fps)``)."""
    first = min(max(int(math.floor(start * fps)), 0), frames - 1)
    last = min(max(int(math.ceil(end * fps)) - 1, first), frames - 1)
    return first, last


def span_seconds(span: Span, fps: float) -> tuple[float, float]:
    """``(start, end)`` seconds of frames ``(first, last)`` at ``fps``."""
    return span[0] / fps, (span[1] + 1) / fps


def span_labels(spans: Sequence[Span], frames: int) -> torch.Tensor:
    """Per-frame targets (frames, 3) float: start, inside, end of each of ``spans``."""
    labels = torch.zeros(frames, 3)
    for first, last in spans:
        labels[first, START] = 1.0
        labels[last, END] = 1.0
        labels[first : last + 1, INSIDE] = 1.0
    return labels


def proposal_loss(
    logits: torch.Tensor, lengths: torch.Tensor, labels: torch.Tensor, boundary_weight: float = 5.0
) -> torch.Tensor:
    """Binary cross-entropy of proposal logits (B, T, 3) against labels (B, T, 3) over valid
    frames; boundaries are rare (two frames per event), so their positives weigh
    ``boundary_weight`` times more."""
    mask = length_mask(lengths.to(logits.device), logits.shape[1])
    weight = torch.tensor([boundary_weight, 1.0, boundary_weight], device=logits.device, dtype=logits.dtype)
    return nn.functional.binary_cross_entropy_with_logits(
        logits[mask], labels[mask].to(logits.dtype), pos_weight=weight
    )


def span_iou(a: Span, b: Span) -> float:
    """Temporal IoU of two frame spans (inclusive ends)."""
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    union = max(a[1], b[1]) - min(a[0], b[0]) + 1
    return max(inter, 0) / union


def _peaks(p: np.ndarray, threshold: float) -> list[int]:
    """Frames where ``p`` reaches ``threshold`` and is a local maximum (a plateau's first frame)."""
    left = np.concatenate([[-np.inf], p[:-1]])
    right = np.concatenate([p[1:], [-np.inf]])
    return np.flatnonzero((p >= threshold) & (p > left) & (p >= right)).tolist()


def _runs(inside: np.ndarray) -> list[Span]:
    """The maximal runs of True in ``inside``, as spans."""
    padded = np.concatenate([[False], inside, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(s), int(e) - 1) for s, e in zip(edges[::2], edges[1::2], strict=True)]


def spans_from_scores(
    scores: np.ndarray | torch.Tensor,
    threshold: float = 0.5,
    nms: float = 0.7,
    max_spans: int = 10,
    min_frames: int = 1,
) -> list[Span]:
    """Event spans of one clip from its per-frame probabilities ``scores`` (T, 3) in [0, 1]
    (start, inside, end), best first, at most ``max_spans``.

    Candidates: every start peak paired with every end peak at or after it whose frames are all at
    least ``threshold`` inside, scored ``start * end * mean(inside)``; where no pair
    qualifies, each run of frames at least ``threshold`` inside. Candidates shorter than
    ``min_frames`` are dropped, then any whose temporal IoU with a better one exceeds ``nms``.
    """
    p = scores.detach().float().cpu().numpy() if isinstance(scores, torch.Tensor) else np.asarray(scores)
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"scores must be (T, 3) start/inside/end, got {p.shape}")
    inside = p[:, INSIDE]
    candidates = []
    for first in _peaks(p[:, START], threshold):
        for last in _peaks(p[:, END], threshold):
            if last >= first and inside[first : last + 1].min() >= threshold:
                candidates.append(
                    (p[first, START] * p[last, END] * inside[first : last + 1].mean(), (first, last))
                )
    if not candidates:
        candidates = [(inside[s : e + 1].mean(), (s, e)) for s, e in _runs(inside >= threshold)]
    candidates = [c for c in candidates if c[1][1] - c[1][0] + 1 >= min_frames]
    kept: list[Span] = []
    for _, span in sorted(candidates, key=lambda c: (-c[0], c[1])):
        if all(span_iou(span, k) <= nms for k in kept):
            kept.append(span)
        if len(kept) == max_spans:
            break
    return kept


def span_features(
    features: torch.Tensor, spans: Sequence[tuple[int, int, int]]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The frames of each span as a padded batch: features (B, T, D) and spans
    ``(clip, first, last)`` -> (N, T', D) and lengths (N,)."""
    if not spans:
        return features.new_zeros(0, 1, features.shape[2]), torch.zeros(0, dtype=torch.long)
    return pad_sequences([features[b, first : last + 1] for b, first, last in spans])
