"""Classification in a pipeline: the ``classify`` stage (a bundle's ClassifySystem -> each
attribute's class probabilities per clip) and the ``write_labels`` sink (``labels.json``).

``labels.json``::

    {"source": "clip.mp4", "duration": 4.0, "top_k": 3,
     "attributes": {"action": [{"class": "bounce", "p": 0.71}, ...], ...},
     "windows": [{"start": 0.0, "end": 2.0, "attributes": {...}}, ...]}

``attributes``: the whole clip, each attribute's ``top_k`` classes, most probable first. A file
decoded in windows (``decode_video`` ``window``) is classified window by window, and the clip's
probabilities are the windows' averaged by their durations; ``windows`` lists each window's own
(one window, spanning the clip, when the file is not windowed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from avseq.pipeline.stages.base import FileInfo, StageType, inference, register
from avseq.pipeline.stages.compute import model_needs, system_inputs
from avseq.pipeline.stages.sinks import NoParams, named_outputs

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


def top_labels(pieces: list[ClipLabels], info: FileInfo) -> dict[str, str]:
    """Attribute -> the file's most probable class (the ``labels`` of its results line)."""
    clip, _ = whole_clip(pieces, info)
    return {a: ranked[0]["class"] for a, ranked in clip.top().items() if ranked}


class ClassifyParams(BaseModel):
    """bundle: a classify bundle (name or folder); top_k: classes reported per attribute."""

    model_config = ConfigDict(extra="forbid")
    bundle: str
    top_k: int = Field(3, ge=1, le=100)


class ClassifyStage:
    """FrameBatch or Features (B, T, ...) -> list[ClipLabels], one per clip."""

    def __init__(self, spec: Any, ctx: Any) -> None:
        self.device, self.top_k = ctx.device(spec), spec.params.top_k
        self.system = ctx.bundle(spec.params.bundle, self.device).system

    @inference
    def __call__(self, inputs: list[Any]) -> list[ClipLabels]:
        is_features, data, lengths = system_inputs(inputs[0], self.device)
        features = data if is_features else self.system.features(data, lengths)
        probs = self.system.probabilities_from_features(features, lengths)
        return [ClipLabels(p, self.top_k) for p in probs]


class WriteLabels:
    """Writes ``labels.json``: each attribute's top classes for the clip and for each window."""

    @staticmethod
    def names(params: NoParams) -> dict[str, str]:
        return named_outputs("labels.json")

    def __init__(self, spec: Any, ctx: Any) -> None:
        self.outputs = self.names(spec.params)
        (self.name,) = self.outputs.values()

    def write(self, folder: Path, inputs: list[list[Any]], info: FileInfo) -> dict[str, str]:
        from avseq.io.atomic import write_text_atomic

        pieces: list[ClipLabels] = inputs[0]
        clip, bounds = whole_clip(pieces, info)
        doc = {
            "source": info.path.name,
            "duration": round(info.duration, 6),
            "top_k": clip.top_k,
            "attributes": clip.top(),
            "windows": [
                {"start": round(start, 6), "end": round(end, 6), "attributes": piece.top()}
                for piece, (start, end) in zip(pieces, bounds, strict=True)
            ],
        }
        write_text_atomic(folder / self.name, json.dumps(doc, indent=1))
        return dict(self.outputs)


register(
    StageType(
        "classify",
        "batch",
        ClassifyParams,
        ClassifyStage,
        ("frames", "features"),
        "labels",
        needs=model_needs,
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
