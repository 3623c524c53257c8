"""Caption grammar of level 2: paraphrases per event, and clip captions that chain them.

An event's captions name its object (colour, material, shape: unique in the clip), its action,
the striker that acts on it, the slide's direction and how many hits there were (counts as
words, level 1's :func:`~avseq.data.synth.captions.count_word`). A clip caption tells every event
in the order they start, joined by "then", or "while" where an event starts before the one
before it is over.
"""

from __future__ import annotations

import numpy as np

from avseq.data.synth.captions import MATERIAL_ADJECTIVES, count_word
from avseq.data.synth.level2.schedule import PlannedEvent
from avseq.data.synth.world import SceneObject

TEMPLATES: dict[str, tuple[str, ...]] = {
    "bounce": (
        "a {obj} falls and bounces {times}",
        "a {obj} drops in and bounces {times}",
        "a {colour} {shape} made of {material} falls onto the floor and bounces {times}",
        "the {obj} falls to the floor and bounces {times}",
    ),
    "slide": (
        "the {obj} slides {direction} and hits the wall",
        "a {obj} slides to the {direction} into the wall",
        "a {colour} {shape} made of {material} slides {direction} and bumps into the wall",
        "the {obj} moves {direction} across the floor and hits the wall",
    ),
    "struck": (
        "a {actor} hits the {obj} {times}",
        "the {obj} is struck {times} by a {actor}",
        "a {actor} strikes the {colour} {shape} made of {material} {times}",
        "a {colour} {shape} made of {material} is hit {times} with a {actor}",
    ),
}


def event_captions(event: PlannedEvent, obj: SceneObject, rng: np.random.Generator, k: int) -> list[str]:
    """``k`` distinct paraphrases (fewer if the grammar has fewer) of one event."""
    slots = {
        "obj": f"{obj.colour} {MATERIAL_ADJECTIVES[obj.material]} {obj.shape}",
        "colour": obj.colour,
        "shape": obj.shape,
        "material": obj.material,
        "direction": event.direction,
        "actor": event.actor,
        "times": count_word(len(event.contacts)),
    }
    templates = TEMPLATES[event.action]
    order = rng.permutation(len(templates))[: min(k, len(templates))]
    return [templates[int(i)].format(**slots) for i in order]


def clip_captions(
    events: list[PlannedEvent], per_event: list[list[str]], rng: np.random.Generator, k: int
) -> list[str]:
    """``k`` captions of the whole clip; caption j takes paraphrase ``j + offset`` of each event."""
    offsets = rng.integers(0, 1 << 16, len(events))
    out = []
    for j in range(k):
        text, busy_until = "", -1
        for event, captions, offset in zip(events, per_event, offsets, strict=True):
            part = captions[(j + int(offset)) % len(captions)]
            if not text:
                text = part
            else:
                text += (" while " if event.start < busy_until else " then ") + part
            busy_until = event.end
        out.append(text)
    return list(dict.fromkeys(out))
