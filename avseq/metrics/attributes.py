"""Attribute accuracy of predicted captions on the synthetic world.

A clip of the synthetic world has known attributes (colour, shape, material,
action, count). A prediction gets an attribute right when one of the
attribute's word forms appears in it as whole words: ``wood`` may appear as
``wooden``, the action ``bounce`` as ``bounces``, the count 2 as ``twice``.
An attribute is scored only on clips where most reference captions express it
(a sliding object's count is rarely said), so the metric asks for what the
captions of the world actually describe.

The floating ``distractor`` (recorded as "colour material shape") is scored the
same way, by the words the grammar names it with ("a red cube floats above"),
but reported beside ``mean`` and ``all``, not in them: only half of a clip's
captions name it, so leaving it out is not a wrong caption, while naming it with
the wrong colour or shape is what costs a model most CIDEr on this world.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from avseq.metrics.captions import simple_tokenize

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
COUNT_ADVERBS = {1: "once", 2: "twice"}
DEFAULT_ATTRIBUTES = ("colour", "shape", "material", "action", "count")
# Word forms of attribute values in the synthetic world's caption grammar (avseq.data.synth.captions).
SYNTH_FORMS: dict[str, tuple[str, ...]] = {
    "wood": ("wood", "wooden"),
    "bounce": ("bounce", "bounces", "bounced", "hits the floor"),
    "slide": ("slide", "slides", "slid", "moves"),
    "struck": ("struck", "stick", "strikes"),
}


def distractor_words(value: str) -> str:
    """The words captions name a distractor by: "red wood cube" -> "red cube" ("" stays "")."""
    words = value.split()
    return f"{words[0]} {words[-1]}" if words else ""


# Attributes reported beside the others but kept out of "mean" and "all": name -> the words
# a caption says for the recorded value.
DIAGNOSTIC_ATTRIBUTES = {"distractor": distractor_words}


def attribute_words(value: object, forms: Mapping[str, Sequence[str]] = SYNTH_FORMS) -> set[str]:
    """The word forms under which ``value`` may appear in a caption.

    Strings give their own lower-case form plus ``forms[value]``; integers give the digit,
    the number word and ``once`` / ``twice``; booleans and None give nothing.
    """
    if isinstance(value, bool) or value is None:
        return set()
    if isinstance(value, int):
        words = {str(value)}
        if 0 <= value < len(NUMBER_WORDS):
            words.add(NUMBER_WORDS[value])
        if value in COUNT_ADVERBS:
            words.add(COUNT_ADVERBS[value])
        return words
    text = str(value)
    return {simple_tokenize(text), *(simple_tokenize(f) for f in forms.get(text, ()))}


def attribute_hit(value: object, caption: str, forms: Mapping[str, Sequence[str]] = SYNTH_FORMS) -> bool:
    """Whether one form of ``value`` appears as whole words in ``caption``."""
    padded = f" {simple_tokenize(caption)} "
    return any(w and f" {w} " in padded for w in attribute_words(value, forms))


def expressed(
    value: object, references: Sequence[str], forms: Mapping[str, Sequence[str]] = SYNTH_FORMS
) -> bool:
    """Whether at least half of ``references`` express ``value`` (all, when there are none given)."""
    if not references:
        return True
    return 2 * sum(attribute_hit(value, r, forms) for r in references) >= len(references)


def attribute_accuracy(
    attributes: Sequence[Mapping[str, object]],
    predictions: Sequence[str],
    references: Sequence[Sequence[str]] | None = None,
    names: Sequence[str] = DEFAULT_ATTRIBUTES,
    forms: Mapping[str, Sequence[str]] = SYNTH_FORMS,
    diagnostics: Mapping[str, Callable[[str], str]] = DIAGNOSTIC_ATTRIBUTES,
) -> dict[str, float]:
    """Per-attribute and overall accuracy of ``predictions`` against clip ``attributes``.

    attributes[i]: the i-th clip's attributes, e.g. ``{"colour": "red", "count": 3}``.
    predictions[i]: the i-th predicted caption. references[i]: its reference captions;
    when given, an attribute counts for a clip only if most references express it.
    Returns ``{name: accuracy}`` for each name scored on at least one clip, plus
    ``"mean"`` (their mean) and ``"all"``: the fraction of clips whose every scored
    attribute is right. ``diagnostics`` (name -> the words a caption says for the value)
    are scored alike and reported under their names, but stay out of ``mean`` and ``all``.
    """
    if len(attributes) != len(predictions):
        raise ValueError(f"got {len(attributes)} attribute records but {len(predictions)} predictions")
    if references is not None and len(references) != len(predictions):
        raise ValueError(f"got {len(references)} reference lists but {len(predictions)} predictions")
    if not predictions:
        raise ValueError("attribute_accuracy needs at least one clip")
    hits: dict[str, list[bool]] = {n: [] for n in (*names, *diagnostics)}
    all_right = []
    for i, (attrs, caption) in enumerate(zip(attributes, predictions, strict=True)):
        refs = references[i] if references is not None else ()
        values = {n: attrs[n] for n in names if n in attrs}
        values.update({n: words(str(attrs[n])) for n, words in diagnostics.items() if attrs.get(n)})
        scored = {n: attribute_hit(v, caption, forms) for n, v in values.items() if expressed(v, refs, forms)}
        for n, hit in scored.items():
            hits[n].append(hit)
        all_right.append(all(hit for n, hit in scored.items() if n not in diagnostics))
    out = {n: sum(hits[n]) / len(hits[n]) for n in names if hits[n]}
    out["mean"] = sum(out.values()) / len(out) if out else 0.0
    out["all"] = sum(all_right) / len(all_right)
    out.update({n: sum(hits[n]) / len(hits[n]) for n in diagnostics if hits[n]})
    return out
