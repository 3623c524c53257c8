"""The caption stage's ``mode: events``: one timed caption per proposed event of a window.

A bundle of kind ``dense_caption`` (:class:`avseq.models.DenseCaptionSystem`) proposes event
spans over a window's frames and captions each; the stage hands on one
:class:`~avseq.io.EventCaptions` per window, whose cues the caption sinks write one per event.
Loading a pipeline checks, from bundle.json alone (no torch), that the bundle has the proposal
head this mode needs.
"""

from __future__ import annotations

from typing import Any

from avseq.errors import AvseqError, ConfigError
from avseq.pipeline.stages.contract import NeedContext

CAPTION_MODES = ("window", "events")
# the bundle kinds with an event-proposal head (avseq.models.systems: DenseCaptionSystem)
EVENT_KINDS = ("dense_caption",)
# what a caption stage provides (see contract.py): True when its texts carry timed event cues, which
# a classify stage of mode events labels
EVENT_SPANS = "event_spans"


def caption_provides(stage: Any, ctx: NeedContext) -> dict[str, Any]:
    """Whether the caption stage's texts carry one timed cue per event (``mode: events``)."""
    return {EVENT_SPANS: stage.params.mode == "events"}


def check_mode(stage: Any, ctx: NeedContext) -> None:
    """Refuse ``mode: events`` with a bundle that has no proposal head (or no ``fps`` to time
    its spans by), naming the stage, ``params.mode`` and the modes the bundle allows."""
    if stage.params.mode != "events":
        return
    from avseq.bundles import resolve
    from avseq.bundles.document import read_document

    bundle = stage.params.bundle
    try:
        kind = read_document(resolve(bundle))["kind"]
    except AvseqError as err:
        raise ConfigError(f"{ctx.where(stage, 'params.bundle')}: {err}") from None
    if kind not in EVENT_KINDS:
        raise ConfigError(
            f"{ctx.where(stage, 'params.mode')} ({stage.id}): mode 'events' needs a bundle with an "
            f"event-proposal head (kind {', '.join(EVENT_KINDS)}); bundle {bundle!r} is a {kind} "
            f"bundle. Allowed modes for it: window"
        )
    check_event_fps(stage, ctx, "times events", "window")


def check_event_fps(stage: Any, ctx: NeedContext, does: str, other_mode: str) -> None:
    """Refuse ``mode: events`` for a stage whose bundle samples a fixed number of frames: events
    are timed (and cut) by its ``preprocessing.fps``. ``does``: what the stage uses the rate for;
    ``other_mode``: the mode the bundle allows instead."""
    from avseq.bundles import read_preprocessing

    bundle = stage.params.bundle
    try:
        fps = read_preprocessing(bundle).fps
    except AvseqError as err:
        raise ConfigError(f"{ctx.where(stage, 'params.bundle')}: {err}") from None
    if fps is None:
        raise ConfigError(
            f"{ctx.where(stage, 'params.mode')} ({stage.id}): mode 'events' {does} by the bundle's "
            f"preprocessing.fps, and bundle {bundle!r} samples a fixed number of frames instead. "
            f"Allowed modes for it: {other_mode}"
        )


def event_captions(system: Any, tokenizer: Any, features: Any, lengths: Any, fps: float, params: Any) -> list:
    """features (B, T, D), lengths (B,) at ``fps`` -> one :class:`~avseq.io.EventCaptions` per clip,
    its cues timed from the clip's first frame."""
    from avseq.io import Cue, EventCaptions
    from avseq.models.proposals import span_seconds

    beam = 1 if params.search == "greedy" else params.beam_size
    events = system.caption_events_from_features(
        features, lengths, params.threshold, params.max_events, beam_size=beam, max_len=params.max_len,
        length_penalty=params.length_penalty, rerank=params.rerank,
    )  # fmt: skip
    out = []
    for clip in events:
        cues = [Cue(*span_seconds(span, fps), tokenizer.decode(hyps[0].tokens)) for span, hyps in clip]
        out.append(EventCaptions(cues))
    return out
