"""Dense caption evaluation of a bundle on a split, with two baselines scored the same way.

- model: the bundle's proposed events, each captioned from its own frames;
- uniform: the clip tiled with fixed-length segments (the median duration of the training
  events), each captioned by the same model from its frames: what the proposals add;
- nearest_neighbour: the events of the training clip whose mean-pooled features are closest
  (by the bundle's encoder, or ``retrieval``'s, as the caption evaluation retrieves), their
  times and first captions copied, cut to the clip.

Scores (:func:`avseq.metrics.dense.dense_caption_scores`, as ActivityNet Captions scores dense
captions): span precision / recall / F1 at tIoU 0.3, 0.5, 0.7 and 0.9, METEOR (needs Java) and
CIDEr over the spans matched at each, and their means over the thresholds. References: each
manifest event (``time`` to ``end``) with all its captions.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

import torch

from avseq.bundles import Bundle
from avseq.data import ManifestEntry
from avseq.data.datasets import span_events
from avseq.data.feature_cache import FeatureCache
from avseq.errors import ConfigError
from avseq.evaluation.inputs import clip_features, nearest, pooled, retrieval_keys
from avseq.metrics.dense import TIOU_THRESHOLDS, dense_caption_scores
from avseq.models.proposals import Span, span_seconds

Timed = tuple[float, float, str]


def uniform_spans(frames: int, length: int) -> list[Span]:
    """The clip's ``frames`` tiled with segments of ``length`` frames (the last one shorter)."""
    length = max(length, 1)
    return [(first, min(first + length, frames) - 1) for first in range(0, frames, length)]


def _timed(spans: list[Span], hyps: list, fps: float, tokenizer) -> list[Timed]:
    return [(*span_seconds(s, fps), tokenizer.decode(h[0].tokens)) for s, h in zip(spans, hyps, strict=True)]


def _copied(entry: ManifestEntry, duration: float) -> list[Timed]:
    """``entry``'s events with their first captions, cut to ``duration`` seconds."""
    return [(e.time, min(e.end, duration), e.captions[0]) for e in span_events(entry) if e.time < duration]


def evaluate_dense(
    bundle: Bundle,
    test: Sequence[ManifestEntry],
    train: Sequence[ManifestEntry],
    device: torch.device,
    *,
    beam_size: int = 1,
    max_len: int = 20,
    rerank: str = "score",
    threshold: float = 0.5,
    max_events: int = 10,
    retrieval: Bundle | None = None,
    train_cache: FeatureCache | None = None,
    progress=lambda items, desc: items,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(report, per-clip rows) for the model and both baselines on ``test`` (level-2 clips:
    events with spans and captions). ``threshold``, ``max_events``: the proposals' (as the
    caption stage's ``mode: events`` takes them)."""
    fps, system, tok = bundle.preprocessing.fps, bundle.system, bundle.tokenizer
    bare = [e.id for e in [*test, *train] if not span_events(e)]
    if bare:
        raise ConfigError(f"clip {bare[0]!r} has no events with an end and captions: dense captioning "
                          f"is scored on level-2 clips (avseq synth --level 2)")  # fmt: skip
    seconds = statistics.median(e.end - e.time for t in train for e in span_events(t))
    length = max(round(seconds * fps), 1)
    decoding = dict(beam_size=beam_size, max_len=max_len, rerank=rerank)
    feats = [clip_features(system, e, bundle.preprocessing, device) for e in progress(test, "test clips")]
    systems: dict[str, dict[str, list[Timed]]] = {"model": {}, "uniform": {}, "nearest_neighbour": {}}
    for entry, f in zip(test, feats, strict=True):
        lengths = torch.tensor([len(f)], device=f.device)
        (events,) = system.caption_events_from_features(f[None], lengths, threshold, max_events, **decoding)
        systems["model"][entry.id] = _timed([s for s, _ in events], [h for _, h in events], fps, tok)
        spans = uniform_spans(len(f), length)
        (hyps,) = system.caption_spans_from_features(f[None], [spans], **decoding)
        systems["uniform"][entry.id] = _timed(spans, hyps, fps, tok)
    test_keys = pooled(feats) if retrieval is None else retrieval_keys(
        retrieval, test, device, progress, "test clips, baseline encoder"
    )  # fmt: skip
    train_keys = retrieval_keys(retrieval or bundle, train, device, progress, "train clips", train_cache)
    for entry, f, j in zip(test, feats, nearest(test_keys, train_keys), strict=True):
        systems["nearest_neighbour"][entry.id] = _copied(train[j], len(f) / fps)
    refs = {e.id: [(ev.time, ev.end, tuple(ev.captions)) for ev in span_events(e)] for e in test}
    report = {name: dense_caption_scores(preds, refs, TIOU_THRESHOLDS) for name, preds in systems.items()}
    for name, preds in systems.items():
        report[name]["events_per_clip"] = sum(len(p) for p in preds.values()) / len(test)
    rows = [
        {"id": e.id, "references": [list(r) for r in refs[e.id]],
         **{name: [list(p) for p in preds[e.id]] for name, preds in systems.items()}}
        for e in test
    ]  # fmt: skip
    return report, rows
