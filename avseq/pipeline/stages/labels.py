"""Classification in a pipeline: the ``classify`` stage (a bundle's ClassifySystem -> each
attribute's class probabilities per clip, or per event) and the ``write_labels`` sink
(``labels.json``).

``labels.json`` of ``mode: clip`` (the default)::

    {"source": "clip.mp4", "duration": 4.0, "top_k": 3,
     "attributes": {"action": [{"class": "bounce", "p": 0.71}, ...], ...},
     "windows": [{"start": 0.0, "end": 2.0, "attributes": {...}}, ...]}

``attributes``: the whole clip, each attribute's ``top_k`` classes, most probable first. A file
decoded in windows (``decode_video`` ``window``) is classified window by window, and the clip's
probabilities are the windows' averaged by their durations; ``windows`` lists each window's own
(one window, spanning the clip, when the file is not windowed).

``mode: events`` labels the events a caption stage of ``mode: events`` proposed (its second
input): each event is one example, the window's features from its start to its end (the window
encoded whole, then cut, as ``avseq eval`` scores a classify bundle trained on event spans)::

    {"source": "clip.mp4", "duration": 30.0, "top_k": 3,
     "events": [{"start": 1.25, "end": 3.0, "caption": "a red cube ...",
                 "attributes": {"action": [{"class": "bounce", "p": 0.71}, ...], ...}}, ...]}

with times in seconds of the file, in order of start. Its results line has no ``labels`` (a file
has many events; its ``captions`` carry theirs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from avseq.errors import ConfigError
from avseq.pipeline.stages.base import STAGES, FileInfo, StageType, inference, register
from avseq.pipeline.stages.compute import model_needs, system_inputs
from avseq.pipeline.stages.contract import FrameNeed, NeedContext
from avseq.pipeline.stages.events import EVENT_SPANS, check_event_fps
from avseq.pipeline.stages.sinks import NoParams, named_outputs

SPAN_BATCH = 32  # event spans classified in one model batch

Distribution = dict[str, dict[str, float]]  # attribute -> class -> probability


@dataclass(frozen=True)
class ClipLabels:
    """One clip's (or window's) classification: ``probs``, attribute -> class -> probability
    (every class of the bundle), and ``top_k``, how many classes per attribute to report."""

    probs: Distribution
    top_k: int

    def top(self) -> dict[str, list[dict[str, Any]]]:
        """Attribute -> its ``top_k`` classes as ``{"class", "p"}``, most probable first."""
        return {a: _ranked(p, self.top_k) for a, p in self.probs.items()}


@dataclass(frozen=True)
class EventLabels:
    """One window's events (``mode: events``): the caption stage's ``cues`` (times from the
    window's start) and each one's ``probs``, as :class:`ClipLabels` has them."""

    cues: tuple[Any, ...]
    probs: tuple[Distribution, ...]
    top_k: int

    def events(self, offset: float) -> list[dict[str, Any]]:
        """Each event as labels.json lists it, its times moved by ``offset`` seconds."""
        return [
            {
                "start": round(offset + cue.start, 6),
                "end": round(offset + cue.end, 6),
                "caption": cue.text,
                "attributes": ClipLabels(probs, self.top_k).top(),
            }
            for cue, probs in zip(self.cues, self.probs, strict=True)
        ]


def _ranked(probs: dict[str, float], k: int) -> list[dict[str, Any]]:
    best = sorted(probs.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return [{"class": c, "p": round(p, 6)} for c, p in best]


def mean_probs(pieces: list[Distribution], weights: list[float]) -> Distribution:
    """The ``weights``-weighted mean of distributions over the same classes."""
    total = sum(weights) or 1.0
    first = pieces[0]
    return {
        a: {c: sum(w * p[a][c] for p, w in zip(pieces, weights, strict=True)) / total for c in first[a]}
        for a in first
    }


def whole_clip(pieces: list[ClipLabels], info: FileInfo) -> tuple[ClipLabels, list[tuple[float, float]]]:
    """The file's labels from its windows' (their probabilities averaged by the windows'
    durations), and each window's (start, end); one window spans the whole file."""
    if not pieces:
        raise ValueError("no labels to write (the file decoded to zero windows)")
    bounds = [(0.0, max(info.windows[0][1], info.duration))] if len(pieces) == 1 else info.windows
    weights = [max(end - start, 1e-6) for start, end in bounds]
    return ClipLabels(mean_probs([p.probs for p in pieces], weights), pieces[0].top_k), bounds


def top_labels(pieces: list[ClipLabels] | list[EventLabels], info: FileInfo) -> dict[str, str]:
    """Attribute -> the file's most probable class (the ``labels`` of its results line); none
    for a file whose events were labelled."""
    if pieces and isinstance(pieces[0], EventLabels):
        return {}
    clip, _ = whole_clip(pieces, info)
    return {a: ranked[0]["class"] for a, ranked in clip.top().items() if ranked}


class ClassifyParams(BaseModel):
    """bundle: a classify bundle (name or folder); top_k: classes reported per attribute;
    mode: ``clip``, each window's frames are one example; ``events``, each event that the
    stage's second input (a caption stage of ``mode: events``) proposed is one, the window's
    features from its start to its end (for bundles trained on event spans, such as level 2's)."""

    model_config = ConfigDict(extra="forbid")
    bundle: str
    top_k: int = Field(3, ge=1, le=100)
    mode: Literal["clip", "events"] = "clip"


def _classify_needs(stage: Any, wanted: list[Any], ctx: NeedContext) -> list[FrameNeed]:
    """The bundle's frames; ``mode: events`` also needs the events of a caption stage of that mode
    as its other input, and a bundle that samples frames at an ``fps`` (spans are cut by it)."""
    texts = [i for i in stage.input if STAGES.get(ctx.spec.stage(i).type).produces == "text"]
    where = ctx.where(stage, "input")
    if stage.params.mode == "clip" and (texts or len(stage.input) != 1):
        raise ConfigError(
            f"{where}: classify stage {stage.id!r} in mode 'clip' reads one input of frames or "
            f"features, got {stage.input}; set params.mode: events to label the events of a caption stage"
        )
    if stage.params.mode == "events":
        if len(stage.input) != 2 or len(texts) != 1:
            raise ConfigError(
                f"{where}: classify stage {stage.id!r} in mode 'events' reads two inputs, frames (or "
                f"features) and a caption stage of mode 'events', got {stage.input}"
            )
        if not ctx.spec.declared(texts[0], EVENT_SPANS):
            raise ConfigError(
                f"{where}: classify stage {stage.id!r} in mode 'events' labels the events of "
                f"{texts[0]!r}, which proposes none; give that caption stage params.mode: events"
            )
        check_event_fps(stage, ctx, "cuts spans", "clip")
    return model_needs(stage, wanted, ctx)


class ClassifyStage:
    """FrameBatch or Features (B, T, ...) -> list[ClipLabels], one per clip; in ``mode: events``,
    with a caption stage's list[EventCaptions] beside them -> list[EventLabels], one per clip."""

    def __init__(self, spec: Any, ctx: Any) -> None:
        self.device, self.top_k, self.mode = ctx.device(spec), spec.params.top_k, spec.params.mode
        bundle = ctx.bundle(spec.params.bundle, self.device)
        self.system, self.fps = bundle.system, bundle.preprocessing.fps

    @inference
    def __call__(self, inputs: list[Any]) -> list[ClipLabels] | list[EventLabels]:
        if self.mode == "events":
            return self._events(inputs)
        is_features, data, lengths = system_inputs(inputs[0], self.device)
        features = data if is_features else self.system.features(data, lengths)
        probs = self.system.probabilities_from_features(features, lengths)
        return [ClipLabels(p, self.top_k) for p in probs]

    def _events(self, inputs: list[Any]) -> list[EventLabels]:
        """Each event's features cut from its window's (frames are encoded whole first, as
        ``avseq eval`` encodes a clip before cutting its events), classified in batches of
        :data:`SPAN_BATCH`."""
        from avseq.models.proposals import frame_span
        from avseq.types import pad_sequences

        windows = next(v for v in inputs if isinstance(v, list))  # the caption stage's
        is_features, data, lengths = system_inputs(
            next(v for v in inputs if not isinstance(v, list)), self.device
        )
        features = data if is_features else self.system.features(data, lengths)
        spans = []
        for b, text in enumerate(windows):
            size = int(lengths[b])
            spans += [(b, frame_span(cue.start, cue.end, self.fps, size)) for cue in text.cues]
        probs: list[Distribution] = []
        for k in range(0, len(spans), SPAN_BATCH):
            pieces = [features[b, first : last + 1] for b, (first, last) in spans[k : k + SPAN_BATCH]]
            probs += self.system.probabilities_from_features(*pad_sequences(pieces))
        out, taken = [], 0
        for text in windows:
            n = len(text.cues)
            out.append(EventLabels(tuple(text.cues), tuple(probs[taken : taken + n]), self.top_k))
            taken += n
        return out


class WriteLabels:
    """Writes ``labels.json``: each attribute's top classes for the clip and for each window, or
    for each event (``mode: events``)."""

    @staticmethod
    def names(params: NoParams) -> dict[str, str]:
        return named_outputs("labels.json")

    def __init__(self, spec: Any, ctx: Any) -> None:
        self.outputs = self.names(spec.params)
        (self.name,) = self.outputs.values()

    def write(self, folder: Path, inputs: list[list[Any]], info: FileInfo) -> dict[str, str]:
        from avseq.io.atomic import write_text_atomic

        pieces: list[ClipLabels] | list[EventLabels] = inputs[0]
        if pieces and isinstance(pieces[0], EventLabels):
            doc = self._events_doc(pieces, info)
        else:
            doc = self._clip_doc(pieces, info)
        write_text_atomic(folder / self.name, json.dumps(doc, indent=1))
        return dict(self.outputs)

    @staticmethod
    def _events_doc(pieces: list[EventLabels], info: FileInfo) -> dict[str, Any]:
        starts = [start for start, _ in info.windows]
        # in order of start: the windows follow each other and each one's cues are sorted (EventCaptions)
        events = [e for piece, start in zip(pieces, starts, strict=True) for e in piece.events(start)]
        doc = {"source": info.path.name, "duration": round(info.duration, 6), "top_k": pieces[0].top_k}
        return {**doc, "events": events}

    @staticmethod
    def _clip_doc(pieces: list[ClipLabels], info: FileInfo) -> dict[str, Any]:
        clip, bounds = whole_clip(pieces, info)
        return {
            "source": info.path.name,
            "duration": round(info.duration, 6),
            "top_k": clip.top_k,
            "attributes": clip.top(),
            "windows": [
                {"start": round(start, 6), "end": round(end, 6), "attributes": piece.top()}
                for piece, (start, end) in zip(pieces, bounds, strict=True)
            ],
        }


register(
    StageType(
        "classify",
        "batch",
        ClassifyParams,
        ClassifyStage,
        ("frames", "features", "text"),
        "labels",
        inputs=(1, 2),
        needs=_classify_needs,
        bundle_kinds=("classify",),
        autocast=True,
    )
)
register(
    StageType(
        "write_labels",
        "sink",
        NoParams,
        WriteLabels,
        ("labels",),
        None,
        outputs=WriteLabels.names,
    )
)
