"""Consensus reranking: minimum-Bayes-risk choice among a beam's hypotheses.

Beam search returns the most probable caption. When a clip can be described in
several ways (paraphrases), probability is split between wordings, and the most
probable one is often not the one that shares most with the others. Consensus
reranking (MBR decoding, Kumar & Byrne 2004) keeps the hypothesis with the highest
expected similarity to the candidates, each weighted by the model's probability
of it renormalized over the candidates:

    choose h_i maximizing  sum_j p_j * sim(h_i, h_j),   p = softmax(log P(h_j))

``sim`` is the mean over n = 1..4 of the F1 of shared n-grams (clipped counts),
so the chosen caption is the one whose words and phrases most candidates agree
on (what it gains on synth-caption's test clips is in configs/README.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Literal, get_args

import torch

from avseq.metrics.cider import ngram_counts
from avseq.models.beam import Hypothesis

MAX_N = 4
Rerank = Literal["score", "consensus"]
RERANKS: tuple[str, ...] = get_args(Rerank)


def ngram_similarity(a: Sequence[int], b: Sequence[int], max_n: int = MAX_N) -> float:
    """Mean over n = 1..max_n of the F1 of the clipped n-gram overlap of ``a`` and ``b``, in [0, 1].

    1 for equal non-empty sequences; an order n that neither sequence is long enough
    for counts as agreement only when both are equally short.
    """
    return _similarity(ngram_counts(a, max_n), ngram_counts(b, max_n))


def _similarity(grams_a: list[Counter], grams_b: list[Counter]) -> float:
    total = 0.0
    for ga, gb in zip(grams_a, grams_b, strict=True):
        na, nb = sum(ga.values()), sum(gb.values())
        if na == 0 or nb == 0:
            total += float(na == nb)
            continue
        overlap = sum((ga & gb).values())
        total += 2 * overlap / (na + nb)
    return total / len(grams_a)


def consensus_order(hyps: Sequence[Hypothesis]) -> list[Hypothesis]:
    """``hyps`` (one clip's beam) sorted by expected similarity to the others, best first.

    Weights are the hypotheses' probabilities renormalized over ``hyps`` (their
    ``log_prob``); ties keep the beam order. Returns a new list.
    """
    if len(hyps) < 2:
        return list(hyps)
    weights = torch.tensor([h.log_prob for h in hyps], dtype=torch.float64).softmax(0).tolist()
    grams = [ngram_counts(h.tokens, MAX_N) for h in hyps]
    gain = [sum(w * _similarity(g, other) for w, other in zip(weights, grams, strict=True)) for g in grams]
    order = sorted(range(len(hyps)), key=lambda i: -gain[i])
    return [hyps[i] for i in order]
