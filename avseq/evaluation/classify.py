"""Classify evaluation of a bundle on a split, with two baselines scored the same way.

Examples are those training used (:func:`avseq.data.datasets.labelled_spans`): a level-1 clip
whole, labelled with its attributes; each event span of a level-2 clip, with that event's.

- model: the bundle's top class per attribute;
- majority: each attribute's most frequent class among the training examples;
- nearest_neighbour: the labels of the training example whose mean-pooled features are closest
  in cosine similarity (by the bundle's encoder, or ``retrieval``'s, as the caption evaluation
  retrieves).

Scores: each attribute's accuracy and their mean. An example whose value the bundle has no class
for counts as wrong for every system; one without a value for an attribute is not scored for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import partial
from typing import Any

import torch

from avseq.bundles import Bundle, Preprocessing
from avseq.data import ManifestEntry
from avseq.data.clips import load_frames
from avseq.data.datasets import LabelledSpan, labelled_spans
from avseq.data.feature_cache import FeatureCache
from avseq.evaluation.inputs import clip_features, nearest, pooled
from avseq.models.proposals import frame_span
from avseq.types import pad_sequences

Example = tuple[str, LabelledSpan]  # (id, span and labels)


def examples_of(entries: Sequence[ManifestEntry], attributes: Sequence[str]) -> list[Example]:
    """Every example of ``entries`` with its id (the clip's, ``#k`` for its k-th event span)."""
    return [
        (e.id if item.span is None else f"{e.id}#{k}", item)
        for e in entries
        for k, item in enumerate(labelled_spans(e, attributes))
    ]


def example_features(
    bundle: Bundle,
    entries: Sequence[ManifestEntry],
    device: torch.device,
    progress,
    desc: str,
    cache: FeatureCache | None = None,
) -> list[torch.Tensor]:
    """Per example, its frames' features (T, D) by ``bundle``'s encoder: each clip encoded whole
    (read from ``cache`` when given), then cut to the span, as training cuts them."""
    prep, out = bundle.preprocessing, []
    for entry in progress(entries, desc):
        if cache is None:
            feats = clip_features(bundle.system, entry, prep, device)
        else:
            feats = cache.features(entry.path, partial(load_frames, entry.path, prep)).to(device)
        out += [_cut(feats, item, prep) for item in labelled_spans(entry, _attributes(bundle))]
    return out


def _cut(features: torch.Tensor, item: LabelledSpan, prep: Preprocessing) -> torch.Tensor:
    if item.span is None:
        return features
    first, last = frame_span(*item.span, prep.fps, len(features))
    return features[first : last + 1]


def _attributes(bundle: Bundle) -> list[str]:
    return list(bundle.system.attributes)


@torch.no_grad()
def predict(bundle: Bundle, features: list[torch.Tensor], batch_size: int = 16) -> list[dict[str, dict]]:
    """Per example, attribute -> class -> probability (:meth:`ClassifySystem.probabilities_from_features`)."""
    out = []
    for i in range(0, len(features), batch_size):
        data, lengths = pad_sequences(features[i : i + batch_size], dim=0)
        out += bundle.system.probabilities_from_features(data, lengths.to(data.device))
    return out


def accuracy(references: list[dict[str, str]], predictions: list[dict[str, str]], attributes) -> dict:
    """``{"attributes": {name: accuracy}, "mean": their mean, "examples": {name: examples scored}}``."""
    per, counts = {}, {}
    for name in attributes:
        pairs = [(r[name], p.get(name)) for r, p in zip(references, predictions, strict=True) if name in r]
        counts[name] = len(pairs)
        per[name] = sum(r == p for r, p in pairs) / max(len(pairs), 1)
    return {"attributes": per, "mean": sum(per.values()) / max(len(per), 1), "examples": counts}


def evaluate_classify(
    bundle: Bundle,
    test: Sequence[ManifestEntry],
    train: Sequence[ManifestEntry],
    device: torch.device,
    *,
    batch_size: int = 16,
    retrieval: Bundle | None = None,
    train_cache: FeatureCache | None = None,
    progress=lambda items, desc: items,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(report, per-example rows) for the model and both baselines on ``test``."""
    attributes = _attributes(bundle)
    tests, trains = examples_of(test, attributes), examples_of(train, attributes)
    test_feats = example_features(bundle, test, device, progress, "test clips")
    probs = predict(bundle, test_feats, batch_size)
    keys_by = retrieval or bundle
    test_keys = pooled(
        test_feats if retrieval is None else example_features(retrieval, test, device, progress, "test clips")
    )
    train_keys = pooled(example_features(keys_by, train, device, progress, "train clips", train_cache))
    majority = {a: _most_frequent([item.labels.get(a) for _, item in trains]) for a in attributes}
    neighbours = nearest(test_keys, train_keys)
    predictions = {
        "model": [{a: max(p[a], key=p[a].get) for a in attributes} for p in probs],
        "majority": [dict(majority) for _ in tests],
        "nearest_neighbour": [dict(trains[j][1].labels) for j in neighbours],
    }
    references = [item.labels for _, item in tests]
    report = {name: accuracy(references, preds, attributes) for name, preds in predictions.items()}
    rows = [
        {"id": example_id, "reference": item.labels, **{name: p[i] for name, p in predictions.items()}}
        for i, (example_id, item) in enumerate(tests)
    ]
    return report, rows


def _most_frequent(values: list[str | None]) -> str | None:
    """The most frequent value (ties: the alphabetically first); None when there is none."""
    counts = Counter(v for v in values if v is not None)
    return min(counts, key=lambda v: (-counts[v], v)) if counts else None
