"""Caption grammar of the synthetic world: several paraphrases per clip.

Captions depend on the whole clip, not one frame: they name the sounding
object (colour, material, shape), the action, its direction, how many
impacts there were (counts as words) and the order of what happens, and may
mention the silent floating distractor.
"""

from __future__ import annotations

import numpy as np

from avseq.data.synth.world import Scene

COUNT_WORDS = {1: "once", 2: "twice", 3: "three times", 4: "four times", 5: "five times", 6: "six times"}
MATERIAL_ADJECTIVES = {"metal": "metal", "wood": "wooden", "glass": "glass", "rubber": "rubber"}

TEMPLATES: dict[str, tuple[str, ...]] = {
    "bounce": (
        "a {obj} bounces {times}",
        "a {obj} falls and bounces {times}",
        "a {obj} drops onto the floor and bounces {times}",
        "the {obj} hits the floor {times}",
        "a {colour} {shape} made of {material} falls and bounces {times}",
        "a {obj} falls to the floor then bounces {times} and comes to rest",
    ),
    "slide": (
        "the {obj} slides {direction} and hits the wall",
        "a {obj} slides to the {direction} until it hits the wall",
        "a {obj} moves {direction} across the floor and bumps into the wall",
        "a {colour} {shape} made of {material} slides {direction} into the wall",
        "the {obj} slides {direction} then hits the wall {times} and bounces back",
    ),
    "struck": (
        "a stick hits the {obj} {times}",
        "the {obj} is struck {times} by a stick",
        "a stick strikes a {obj} {times}",
        "a {colour} {shape} made of {material} is hit {times} with a stick",
        "a stick comes down and hits the {obj} {times}",
    ),
}
DISTRACTOR_SUFFIX = " while a {colour} {shape} floats above"


def count_word(n: int) -> str:
    """The count as words (``2 -> "twice"``); raises ValueError outside 1..6."""
    if n not in COUNT_WORDS:
        raise ValueError(f"count {n} has no word; supported: {sorted(COUNT_WORDS)}")
    return COUNT_WORDS[n]


def make_captions(scene: Scene, rng: np.random.Generator, k: int) -> list[str]:
    """``k`` distinct paraphrases (fewer if the grammar has fewer) describing ``scene``."""
    main = scene.main
    slots = {
        "obj": f"{main.colour} {MATERIAL_ADJECTIVES[main.material]} {main.shape}",
        "colour": main.colour,
        "shape": main.shape,
        "material": main.material,
        "direction": scene.direction,
        "times": count_word(scene.count),
    }
    templates = TEMPLATES[scene.action]
    order = rng.permutation(len(templates))[: min(k, len(templates))]
    out = []
    for rank, i in enumerate(order):
        text = templates[int(i)].format(**slots)
        if scene.distractor is not None and rank % 2 == 1:
            d = scene.distractor
            text += DISTRACTOR_SUFFIX.format(colour=d.colour, shape=d.shape)
        out.append(text)
    return out
