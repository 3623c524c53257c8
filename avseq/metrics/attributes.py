"""Attribute accuracy of predicted captions on the synthetic world.

A clip of the synthetic world has known attributes (colour, shape, material,
action, count). A prediction gets an attribute right when the attribute's word
appears in it; an integer count may appear as a digit or as a number word.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from avseq.metrics.captions import simple_tokenize

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
DEFAULT_ATTRIBUTES = ("colour", "shape", "material", "action", "count")


def attribute_words(value: object) -> set[str]:
    """The word forms under which ``value`` may appear in a caption.

    Strings give their own (lower-case, possibly multi-word) form; integers give the digit
    and the number word (``3`` -> ``{"3", "three"}``); booleans and None give nothing.
    """
    if isinstance(value, bool) or value is None:
        return set()
    if isinstance(value, int):
        words = {str(value)}
        if 0 <= value < len(NUMBER_WORDS):
            words.add(NUMBER_WORDS[value])
        return words
    return {simple_tokenize(str(value))}


def attribute_hit(value: object, caption: str) -> bool:
    """Whether one form of ``value`` appears as whole words in ``caption``."""
    padded = f" {simple_tokenize(caption)} "
    return any(w and f" {w} " in padded for w in attribute_words(value))


def attribute_accuracy(
    attributes: Sequence[Mapping[str, object]],
    predictions: Sequence[str],
    names: Sequence[str] = DEFAULT_ATTRIBUTES,
) -> dict[str, float]:
    """Per-attribute and overall accuracy of ``predictions`` against clip ``attributes``.

    attributes[i]: the i-th clip's attributes, e.g. ``{"colour": "red", "count": 3}``.
    predictions[i]: the i-th predicted caption. Attributes a clip lacks are not counted.
    Returns ``{name: accuracy}`` for each name present in at least one clip, plus
    ``"all"``: the fraction of clips whose every present attribute is right.
    """
    if len(attributes) != len(predictions):
        raise ValueError(f"got {len(attributes)} attribute records but {len(predictions)} predictions")
    if not predictions:
        raise ValueError("attribute_accuracy needs at least one clip")
    hits: dict[str, list[bool]] = {n: [] for n in names}
    all_right = []
    for attrs, caption in zip(attributes, predictions, strict=True):
        clip_hits = [attribute_hit(attrs[n], caption) for n in names if n in attrs]
        for n in names:
            if n in attrs:
                hits[n].append(attribute_hit(attrs[n], caption))
        all_right.append(all(clip_hits))
    out = {n: sum(h) / len(h) for n, h in hits.items() if h}
    out["all"] = sum(all_right) / len(all_right)
    return out
