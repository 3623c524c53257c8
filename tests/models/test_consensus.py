"""Consensus reranking: the n-gram similarity, the expected-agreement order, and systems using it."""

import pytest
import torch

from avseq.models.beam import Hypothesis
from avseq.models.consensus import consensus_order, ngram_similarity
from tests.models.test_systems import clips, make


def test_similarity_is_one_for_equal_zero_for_disjoint_and_symmetric():
    a, b = [5, 6, 7, 8, 9], [5, 6, 7, 10, 11]
    assert ngram_similarity(a, a) == 1.0
    assert ngram_similarity(a, [12, 13, 14, 15, 16]) == 0.0
    assert ngram_similarity(a, b) == ngram_similarity(b, a)
    # 1-grams: 3 of 5 shared, 2-grams 2 of 4, 3-grams 1 of 3, 4-grams 0 of 2
    assert ngram_similarity(a, b) == pytest.approx((3 / 5 + 2 / 4 + 1 / 3 + 0) / 4)
    assert ngram_similarity([5, 5, 5], [5]) == pytest.approx((2 * 1 / 4 + 0 + 0 + 1) / 4)  # clipped counts


def test_the_wording_most_hypotheses_share_wins_over_the_most_probable():
    odd = Hypothesis([20, 21, 22, 23], score=-1.0, log_prob=-1.0)
    shared = [Hypothesis([5, 6, 7, 8, t], score=-1.2, log_prob=-1.2) for t in (9, 10, 11)]
    order = consensus_order([odd, *shared])
    assert order[0] in shared and order[-1] is odd
    assert consensus_order([odd]) == [odd] and consensus_order([]) == []


def test_probability_weights_the_agreement():
    likely = Hypothesis([5, 6, 7], score=0.0, log_prob=0.0)
    unlikely = [
        Hypothesis([8, 9, 10], score=-9.0, log_prob=-9.0),
        Hypothesis([8, 9, 11], score=-9.0, log_prob=-9.0),
    ]
    assert consensus_order([*unlikely, likely])[0] is likely  # two improbable ones do not outvote it


@pytest.mark.parametrize("kind", ["caption", "frame_caption"])
def test_systems_rerank_the_whole_beam_by_consensus(kind):
    system = make(kind)
    frames, lengths = clips()
    beam = system.generate(frames, lengths, beam_size=4, max_len=5, n_best=4)
    reranked = system.generate(frames, lengths, beam_size=4, max_len=5, n_best=4, rerank="consensus")
    best = system.generate(frames, lengths, beam_size=4, max_len=5, rerank="consensus")
    for by_score, by_consensus, first in zip(beam, reranked, best, strict=True):
        assert sorted(h.tokens for h in by_consensus) == sorted(h.tokens for h in by_score)
        assert by_consensus == consensus_order(by_score) and first == by_consensus[:1]
    with pytest.raises(ValueError, match="Invalid rerank 'vote'. Supported: score, consensus"):
        system.generate(frames, lengths, beam_size=2, rerank="vote")
    with torch.no_grad():
        greedy = system.generate(frames, lengths, beam_size=1, rerank="consensus")
    assert greedy == system.generate(frames, lengths, beam_size=1)
