"""tools/caption_ceiling.py rebuilds each clip's grammar from its manifest line faithfully."""

import numpy as np

from avseq.metrics.captions import simple_tokenize
from avseq.metrics.cider import CiderD
from tools.caption_ceiling import bayes_optimal, candidates, scene_of


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
