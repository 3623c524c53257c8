"""In-process CIDEr-D against pycocoevalcap's scorer, on words and on token ids."""

import pytest

from avseq.metrics.captions import simple_tokenize
from avseq.metrics.cider import CiderD

REFS = {
    "a": ["a red metal ball bounces three times", "the red metal ball hits the floor three times"],
    "b": ["a stick hits the blue wooden cube twice", "the blue wooden cube is struck twice by a stick"],
    "c": ["the green glass pyramid slides left and hits the wall"],
    "d": ["a red ball bounces", "a red ball falls and bounces once", "the red ball hits the floor once"],
}
PREDS = {
    "a": "a red metal ball bounces twice",
    "b": "a stick hits the blue wooden cube twice",
    "c": "a green pyramid slides left",
    "d": "red ball",  # one 2-gram: the length penalty still applies
}


def _pycocoevalcap(refs, preds):
    from pycocoevalcap.cider.cider import Cider

    mean, per_clip = Cider().compute_score(
        {k: [simple_tokenize(r) for r in v] for k, v in refs.items()},
        {k: [simple_tokenize(v)] for k, v in preds.items()},
    )
    return mean, dict(zip(refs, per_clip, strict=True))


def test_scores_equal_pycocoevalcap_with_the_same_corpus():
    cider = CiderD([r.split() for r in refs] for refs in REFS.values())
    _, direct = _pycocoevalcap(REFS, PREDS)
    for clip, refs in REFS.items():
        ours = cider.score(PREDS[clip].split(), [r.split() for r in refs])
        assert ours == pytest.approx(direct[clip], abs=1e-9), clip
    assert min(direct.values()) > 0 and max(direct.values()) < 10


def test_token_ids_score_as_the_words_do_and_vectors_can_be_reused():
    vocab = {
        w: i
        for i, w in enumerate(sorted({w for v in REFS.values() for r in v for w in r.split()} | {"twice"}))
    }
    ids = lambda text: [vocab[w] for w in text.split()]  # noqa: E731
    by_words = CiderD([r.split() for r in refs] for refs in REFS.values())
    by_ids = CiderD([ids(r) for r in refs] for refs in REFS.values())
    refs = [ids(r) for r in REFS["b"]]
    score = by_ids.score(ids(PREDS["b"]), refs)
    assert score == pytest.approx(
        by_words.score(PREDS["b"].split(), [r.split() for r in REFS["b"]]), abs=1e-12
    )
    assert by_ids.score(ids(PREDS["b"]), [by_ids.vector(r) for r in refs]) == score


def test_a_caption_equal_to_every_reference_scores_ten_and_bad_input_is_refused():
    cider = CiderD([[["x", "y", "z", "w"]], [["p", "q", "r", "s"]]])
    assert cider.score(["x", "y", "z", "w"], [["x", "y", "z", "w"]]) == pytest.approx(10.0)
    assert cider.score(["p", "q"], [["x", "y", "z", "w"]]) == 0.0
    with pytest.raises(ValueError, match="at least one reference"):
        cider.score(["x"], [])
    with pytest.raises(ValueError, match="at least one clip"):
        CiderD([])
