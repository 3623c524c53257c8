"""tools/caption_ceiling.py rebuilds each clip's grammar from its manifest line faithfully, and accounts
for a model's lost CIDEr by what its captions get wrong."""

import numpy as np
import pytest

from avseq.metrics.captions import simple_tokenize
from avseq.metrics.cider import CiderD
from tools.caption_ceiling import bayes_optimal, candidates, lost_by_miss, scene_of


def test_every_reference_is_a_candidate_and_the_choice_is_one_of_them(tiny_entries):
    refs = [[simple_tokenize(c).split() for c in e.captions] for e in tiny_entries]
    cider = CiderD(refs)
    for entry in tiny_entries:
        scene = scene_of(entry.attributes)
        every = candidates(scene, with_distractor=True)
        assert set(entry.captions) <= set(every), entry.id  # the manifest's captions, regenerated
        plain = candidates(scene, with_distractor=False)
        assert all(" while a " not in c for c in plain) and set(plain) <= set(every)
        best = bayes_optimal(cider, scene, len(entry.captions), 5, np.random.default_rng(0), True)
        assert best in every


def test_lost_by_miss_adds_up_to_the_gap_and_files_a_wrong_count_under_count(tiny_entries):
    refs = {e.id: [simple_tokenize(c).split() for c in e.captions] for e in tiny_entries}
    cider = CiderD(refs.values())
    best = {e.id: e.captions[0] for e in tiny_entries}  # stands in for the Bayes-optimal choice
    optimal = {i: cider.score(simple_tokenize(c).split(), refs[i]) for i, c in best.items()}
    counted = next(e for e in tiny_entries if e.attributes["action"] != "slide")
    word = counted.attributes["count_word"]
    predictions = {**best, counted.id: best[counted.id].replace(word, "once" if word != "once" else "twice")}

    groups = lost_by_miss(cider, tiny_entries, refs, predictions, optimal)

    model = [cider.score(simple_tokenize(predictions[i]).split(), refs[i]) for i in refs]
    gap = np.mean(list(optimal.values())) - np.mean(model)
    assert gap > 0
    assert sum(g["cider_lost"] for g in groups.values()) == pytest.approx(gap, abs=1e-3 * len(groups))
    assert sum(g["clips"] for g in groups.values()) == len(tiny_entries)
    wrong = {k: g for k, g in groups.items() if "count" in k.split("+")}
    assert [g["clips"] for g in wrong.values()] == [1] and next(iter(wrong.values()))["cider_lost"] > 0
