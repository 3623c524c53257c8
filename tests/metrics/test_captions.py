import pytest

from avseq.metrics import caption_scores, java_available
from avseq.metrics.attributes import attribute_accuracy, attribute_hit, distractor_words
from avseq.metrics.captions import simple_tokenize

needs_java = pytest.mark.skipif(not java_available(), reason="needs Java for PTBTokenizer / METEOR")

REFS = {
    "clip/1": ["A red metal ball bounces three times.", "a red ball made of metal bounces 3 times"],
    "clip/2": ["A blue wooden cube slides across the floor", "the blue cube slides"],
    "clip/10": ["Two green rubber spheres roll, then stop!"],
}
PREDS = {
    "clip/1": "a red metal ball bounces twice",
    "clip/2": "a blue wooden cube slides",
    "clip/10": "two green spheres roll",
}


def _direct(refs, preds):
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    tok = PTBTokenizer()
    gts = tok.tokenize({k: [{"caption": c} for c in v] for k, v in refs.items()})
    res = tok.tokenize({k: [{"caption": v}] for k, v in preds.items()})
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, _ = Rouge().compute_score(gts, res)
    cider, _ = Cider().compute_score(gts, res)
    return {"BLEU-1": bleu[0], "BLEU-4": bleu[3], "ROUGE-L": rouge, "CIDEr": cider}


@needs_java
def test_wrapper_equals_pycocoevalcap_called_directly():
    ours = caption_scores(REFS, PREDS, metrics=["BLEU-1", "BLEU-4", "ROUGE-L", "CIDEr"])
    direct = _direct(REFS, PREDS)
    assert ours["tokenizer"] == "ptb"
    for name, value in direct.items():
        assert ours[name] == pytest.approx(value, abs=1e-12), name
    assert 0 < ours["BLEU-4"] < 1


@needs_java
def test_prediction_equal_to_a_reference_scores_bleu4_one_and_meteor_high():
    preds = {k: refs[0] for k, refs in REFS.items()}
    scores = caption_scores(REFS, preds)
    assert scores["BLEU-4"] == pytest.approx(1.0, abs=1e-6)
    assert scores["METEOR"] > 0.8
    assert set(scores) >= {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr"}


def test_simple_tokenizer_fallback_scores_without_java():
    preds = {k: refs[0].upper() for k, refs in REFS.items()}
    scores = caption_scores(REFS, preds, metrics=["BLEU-4", "CIDEr"], tokenizer="simple")
    assert scores["tokenizer"] == "simple"
    assert scores["BLEU-4"] == pytest.approx(1.0, abs=1e-6)
    assert simple_tokenize("Hello, World!  ok") == "hello world ok"


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match=r"unknown caption metric 'BLEU-5'; known: BLEU-1"):
        caption_scores(REFS, PREDS, metrics=["BLEU-5"])
    with pytest.raises(ValueError, match="same clip ids"):
        caption_scores(REFS, {"clip/1": "x"})
    with pytest.raises(ValueError, match="list of >= 1 reference"):
        caption_scores({"a": "not a list"}, {"a": "x"})
    with pytest.raises(ValueError, match=r"Invalid tokenizer 'nltk'"):
        caption_scores(REFS, PREDS, tokenizer="nltk")


def test_attribute_accuracy_counts_word_forms_and_numbers():
    attrs = [
        {"colour": "red", "shape": "ball", "material": "wood", "action": "bounce", "count": 3},
        {"colour": "blue", "shape": "cube", "material": "metal", "action": "struck", "count": 2},
    ]
    preds = ["a red wooden ball bounces three times", "a reddish metal cube is hit 2 times"]
    acc = attribute_accuracy(attrs, preds)
    assert acc == {
        "colour": 0.5,
        "shape": 1.0,
        "material": 1.0,
        "action": 0.5,
        "count": 1.0,
        "mean": 0.8,
        "all": 0.5,
    }
    assert attribute_hit(3, "bounces 3 times") and attribute_hit(2, "bounces twice")
    assert not attribute_hit("red", "reddish") and attribute_hit("struck", "a stick hits it")
    with pytest.raises(ValueError, match="2 attribute records but 1 predictions"):
        attribute_accuracy(attrs, preds[:1])


def test_the_distractor_is_scored_by_its_colour_and_shape_but_kept_out_of_mean_and_all():
    attrs = [
        {"colour": "red", "distractor": "blue wood cube"},
        {"colour": "green", "distractor": "red metal ball"},
        {"colour": "green", "distractor": "yellow glass pyramid"},
        {"colour": "purple", "distractor": ""},
    ]
    refs = [
        ["a red ball bounces", "a red ball bounces while a blue cube floats above"],
        ["a green cube slides", "a green cube slides while a red ball floats above"],
        ["a green cube slides", "a green cube hits the wall", "it slides while a yellow pyramid floats"],
        ["a purple ball bounces"],
    ]
    preds = [
        "a red ball bounces while a blue cube floats above",  # named right
        "a green cube slides while a red cube floats above",  # wrong shape
        "a green cube slides",  # not scored: most references leave it out
        "a purple ball bounces while a red cube floats above",  # not scored: no distractor
    ]
    acc = attribute_accuracy(attrs, preds, refs)
    assert acc == {"colour": 1.0, "mean": 1.0, "all": 1.0, "distractor": 0.5}
    assert distractor_words("blue wood cube") == "blue cube" and distractor_words("") == ""
    assert "distractor" not in attribute_accuracy(attrs, preds, refs, diagnostics={})


def test_attributes_the_references_do_not_express_are_not_scored():
    attrs = [{"colour": "green", "action": "slide", "count": 1}]
    refs = [["the green ball slides left", "a green cube moves left", "it slides and hits the wall once"]]
    acc = attribute_accuracy(attrs, ["a green ball slides left"], refs)
    assert acc == {"colour": 1.0, "action": 1.0, "mean": 1.0, "all": 1.0}
    acc = attribute_accuracy(attrs, ["a green ball slides left"])
    assert acc["count"] == 0.0 and acc["all"] == 0.0


@needs_java
def test_a_meteor_session_starts_java_once_and_scores_as_separate_calls_do(monkeypatch):
    from pycocoevalcap.meteor import meteor

    from avseq.metrics import meteor_session

    started = []
    real = meteor.Meteor.__init__
    monkeypatch.setattr(meteor.Meteor, "__init__", lambda self: started.append(self) or real(self))
    other = {**PREDS, "clip/2": "a cube"}
    with meteor_session(), meteor_session():  # nested: the outer one's scorer
        shared = [caption_scores(REFS, p, ["METEOR"])["METEOR"] for p in (PREDS, other)]
        assert len(started) == 1 and started[0].meteor_p.poll() is None
    assert started[0].meteor_p.poll() is not None  # its Java process ended with the session
    assert shared[0] != shared[1]
    assert caption_scores(REFS, other, ["METEOR"])["METEOR"] == shared[1]  # a call of its own
    assert len(started) == 2  # outside a session, a call starts its own scorer again
