"""CIDEr-D of single captions against their references, in process and on any tokens.

The same computation as pycocoevalcap's ``CiderScorer`` (Vedantam et al., 2015,
with the "D" changes: clipped n-gram counts, a Gaussian length penalty with
sigma 6, the mean over n = 1..4, times 10), but with the document frequencies
fixed in advance from a reference corpus instead of taken from the captions
being scored. That makes a caption's score a function of that caption alone,
which is what a training reward needs (self-critical sequence training scores
many sampled captions per clip, thousands of times). Called with the corpus of
the captions being scored, it returns pycocoevalcap's scores exactly.

Tokens may be words or token ids: anything hashable.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

Tokens = Sequence[Hashable]
MAX_N = 4
SIGMA = 6.0


def ngram_counts(tokens: Tokens, max_n: int = MAX_N) -> list[Counter]:
    """Counts of the n-grams of ``tokens`` (tuples as keys), one Counter per order n = 1..max_n."""
    orders = range(1, max_n + 1)
    return [Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)) for n in orders]


@dataclass(frozen=True)
class _Vector:
    """tf-idf weights per n-gram order, their norms, and the length pycocoevalcap compares
    (its count of 2-grams)."""

    weights: list[dict[tuple, float]]
    norms: list[float]
    length: int


class CiderD:
    """CIDEr-D with document frequencies from ``corpus``: one list of references per clip.

    ``score(candidate, references)`` -> float (10 for a caption equal to all of its
    references). An n-gram the corpus never saw gets the largest idf, as in pycocoevalcap.
    """

    def __init__(self, corpus: Iterable[Sequence[Tokens]], max_n: int = MAX_N, sigma: float = SIGMA) -> None:
        self.max_n, self.sigma = max_n, sigma
        self.document_frequency: Counter = Counter()
        clips = 0
        for references in corpus:
            clips += 1
            self.document_frequency.update(
                {g for ref in references for order in ngram_counts(ref, max_n) for g in order}
            )
        if clips == 0:
            raise ValueError("CiderD needs a corpus of at least one clip's references")
        self.log_clips = math.log(float(clips))

    def vector(self, tokens: Tokens) -> _Vector:
        """The tf-idf vector of ``tokens`` (precompute references' once when scoring many candidates)."""
        counts = ngram_counts(tokens, self.max_n)
        idf = lambda g: self.log_clips - math.log(max(1.0, self.document_frequency[g]))  # noqa: E731
        weights = [{g: tf * idf(g) for g, tf in order.items()} for order in counts]
        norms = [math.sqrt(sum(w * w for w in order.values())) for order in weights]
        length = sum(counts[1].values()) if self.max_n >= 2 else 0
        return _Vector(weights, norms, length)

    def similarity(self, candidate: _Vector, reference: _Vector) -> float:
        """Mean over n-gram orders of the clipped, length-penalized cosine similarity."""
        penalty = math.exp(-((candidate.length - reference.length) ** 2) / (2 * self.sigma**2))
        total = 0.0
        for n in range(self.max_n):
            ref = reference.weights[n]
            dot = sum(min(w, ref.get(g, 0.0)) * ref.get(g, 0.0) for g, w in candidate.weights[n].items())
            if candidate.norms[n] and reference.norms[n]:
                dot /= candidate.norms[n] * reference.norms[n]
            total += dot * penalty
        return total / self.max_n

    def score(self, candidate: Tokens, references: Sequence[Tokens] | Sequence[_Vector]) -> float:
        """CIDEr-D of one candidate against its references (token sequences or :meth:`vector`\\ s)."""
        if len(references) == 0:
            raise ValueError("CIDEr-D needs at least one reference")
        vec = self.vector(candidate)
        refs = [r if isinstance(r, _Vector) else self.vector(r) for r in references]
        return 10.0 * sum(self.similarity(vec, r) for r in refs) / len(refs)
