"""Caption evaluation of a bundle on a split, with two baselines scored the same way.

- model: beam-search captions of the bundle (reranked by consensus when asked);
- most_frequent: the most frequent training caption, for every clip;
- nearest_neighbour: the first caption of the training clip whose mean-pooled
  features are closest in cosine similarity (by the bundle's own encoder, or by
  ``retrieval``'s: see :mod:`avseq.evaluation.inputs`).

Scores: BLEU-1..4, METEOR, ROUGE-L, CIDEr (pycocoevalcap, PTB tokenization; METEOR
needs Java) and, when the manifest carries attributes, attribute accuracy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch

from avseq.bundles import Bundle
from avseq.data import ManifestEntry
from avseq.data.feature_cache import FeatureCache
from avseq.evaluation.inputs import clip_features, nearest, pooled, retrieval_keys
from avseq.metrics import CAPTION_METRICS, attribute_accuracy, caption_scores
from avseq.models.beam import DEFAULT_BEAM_SIZE
from avseq.types import pad_sequences


def score_captions(
    references: dict[str, list[str]],
    predictions: dict[str, str],
    entries: Sequence[ManifestEntry],
    metrics: Sequence[str] = CAPTION_METRICS,
) -> dict[str, Any]:
    """``metrics`` (:func:`avseq.metrics.caption_scores`, with its ``tokenizer`` key) plus attribute
    accuracy (``attributes`` key) when entries carry attributes."""
    out: dict[str, Any] = caption_scores(references, predictions, metrics)
    with_attrs = [e for e in entries if e.attributes]
    if with_attrs:
        out["attributes"] = attribute_accuracy(
            [e.attributes for e in with_attrs],
            [predictions[e.id] for e in with_attrs],
            [references[e.id] for e in with_attrs],
        )
    return out


@torch.no_grad()
def generate(
    bundle: Bundle,
    features: list[torch.Tensor],
    beam_size: int,
    max_len: int,
    batch_size: int,
    rerank: str = "score",
) -> list[str]:
    """Decoded captions of clips given their (T, D) features, ``batch_size`` clips per call."""
    texts = []
    for i in range(0, len(features), batch_size):
        data, lengths = pad_sequences(features[i : i + batch_size], dim=0)
        hyps = bundle.system.generate_from_features(
            data, lengths, beam_size=beam_size, max_len=max_len, rerank=rerank
        )
        texts += [bundle.tokenizer.decode(h[0].tokens) for h in hyps]
    return texts


def most_frequent_caption(entries: Sequence[ManifestEntry]) -> str:
    """The most frequent training caption (ties: the alphabetically first)."""
    counts = Counter(c for e in entries for c in e.captions)
    if not counts:
        raise ValueError("the training clips carry no captions")
    return min(counts, key=lambda c: (-counts[c], c))


def evaluate_captions(
    bundle: Bundle,
    test: Sequence[ManifestEntry],
    train: Sequence[ManifestEntry],
    device: torch.device,
    *,
    beam_size: int = DEFAULT_BEAM_SIZE,
    max_len: int = 20,
    rerank: str = "score",
    batch_size: int = 16,
    retrieval: Bundle | None = None,
    train_cache: FeatureCache | None = None,
    progress=lambda items, desc: items,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(report, per-clip rows) for the model and both baselines on ``test``.

    retrieval: the bundle whose encoder finds each clip's nearest training clip (default: ``bundle``).
    train_cache: that encoder's feature cache for the training clips (see ``retrieval_keys``).
    """
    prep = bundle.preprocessing
    test_feats = [clip_features(bundle.system, e, prep, device) for e in progress(test, "test clips")]
    if retrieval is None:
        test_keys = pooled(test_feats)
    else:
        test_keys = retrieval_keys(retrieval, test, device, progress, "test clips, baseline encoder")
    train_keys = retrieval_keys(retrieval or bundle, train, device, progress, "train clips", train_cache)
    model = generate(bundle, test_feats, beam_size, max_len, batch_size, rerank)
    frequent = most_frequent_caption(train)
    neighbours = nearest(test_keys, train_keys)
    systems = {
        "model": dict(zip([e.id for e in test], model, strict=True)),
        "most_frequent": {e.id: frequent for e in test},
        "nearest_neighbour": {e.id: train[j].captions[0] for e, j in zip(test, neighbours, strict=True)},
    }
    refs = {e.id: list(e.captions) for e in test}
    report = {name: score_captions(refs, preds, test) for name, preds in systems.items()}
    rows = [
        {"id": e.id, "references": refs[e.id], **{name: preds[e.id] for name, preds in systems.items()}}
        for e in test
    ]
    return report, rows
