"""What a stage type is: a params model, a role, the value kinds it takes and makes.

Three roles keep the executor small:

- ``source`` stages run in decode worker processes, once per window of a file;
- ``batch`` stages run in the main process on a batch of clips from several files
  (``__call__(inputs) -> value`` where each input is the batch value of an upstream stage);
- ``sink`` stages run once per file with every window's piece and write into the
  file's staging folder (``write(folder, inputs, info) -> extra result fields``).

Value kinds, as batch values (what flows between batch stages) and pieces (one clip):

========== ========================================== =================================
kind       batch value                                piece (one clip)
========== ========================================== =================================
video      list[Frames] uint8 (T, 3, H, W) as decoded Frames
audio      list[Audio] as decoded                     Audio
frames     FrameBatch float (B, T, 3, H, W) in [0, 1] Frames (T, 3, H, W)
features   Features (B, T, D)                         tensor (T, D)
spectrogram Spectrogram (B, n_mels, T')               tensor (n_mels, T')
wave       list[Audio]                                Audio
text       list[str]                                  str (a caption stage's: io.captions.Caption)
labels     list[ClipLabels] (stages/labels.py)        ClipLabels
========== ========================================== =================================
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel

from avseq.registry import Registry

Role = Literal["source", "batch", "sink"]
KINDS = ("video", "audio", "frames", "features", "spectrogram", "wave", "text", "labels")


@dataclass(frozen=True)
class StageType:
    """A registered stage type.

    params: pydantic model of its ``params`` (extra keys forbidden).
    accepts: value kinds allowed as inputs; produces: the kind it makes (None for sinks).
    inputs: (min, max) number of inputs. outputs: for sinks, params -> {result key: file name}.
    impl: the runtime class, built once per run with ``impl(stage_spec, context)``.
    needs / provides: what it needs from its inputs and what its output carries, read by the
    planner once at load time (:mod:`avseq.pipeline.stages.contract`); None: nothing.
    bundle_kinds: the kinds of bundle (bundle.json ``kind``) its ``bundle`` param may name,
    checked by the planner at load time; empty: it takes any bundle, or none.
    autocast: a batch stage that runs under the pipeline's ``precision`` (bf16 / fp16 autocast,
    :mod:`avseq.pipeline.precision`); it hands float32 values on whatever ran inside.
    """

    name: str
    role: Role
    params: type[BaseModel]
    impl: Callable[..., Any]
    accepts: tuple[str, ...] = ()
    produces: str | None = None
    inputs: tuple[int, int] = (1, 1)
    outputs: Callable[[Any], dict[str, str]] | None = None
    needs: Callable[[Any, list[Any], Any], list[Any]] | None = None
    provides: Callable[[Any, Any], dict[str, Any]] | None = None
    bundle_kinds: tuple[str, ...] = ()
    autocast: bool = False


STAGES: Registry[StageType] = Registry("stage type")


def register(stage_type: StageType) -> StageType:
    """Add ``stage_type`` to :data:`STAGES` under its name."""
    return STAGES.register(stage_type.name)(stage_type)


@dataclass
class FileInfo:
    """What sinks know about the input file being finalized.

    windows: [(start, end)] seconds of each decoded window, in order; duration: seconds;
    pts: (T,) float64 numpy, seconds of every decoded video frame (empty without video).
    """

    path: Path
    duration: float
    windows: list[tuple[float, float]]
    pts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))


def inference(method: Callable) -> Callable:
    """A stage's ``__call__`` under ``torch.inference_mode``, torch imported when it first runs
    (declaring the stage types never imports torch)."""

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        import torch

        with torch.inference_mode():
            return method(*args, **kwargs)

    return run


def split_batch(kind: str, value: Any, n: int) -> list[Any]:
    """Cut a batch value of ``kind`` into its ``n`` per-clip pieces on the CPU (padding removed
    by :func:`~avseq.types.unpad`)."""
    from avseq.types import Frames, unpad

    if kind in ("video", "audio", "wave", "text", "labels"):
        return list(value)
    if kind == "frames":
        batch = value
        pieces = zip(unpad(batch.data, batch.lengths), unpad(batch.pts, batch.lengths), strict=True)
        return [Frames(data.cpu(), pts) for data, pts in pieces]
    if kind == "features":
        return [piece.detach().cpu() for piece in unpad(value.data, value.lengths)]
    if kind == "spectrogram":
        return [piece.detach().cpu() for piece in unpad(value.data, value.lengths, dim=1)]
    raise ValueError(f"unknown value kind {kind!r}; known: {', '.join(KINDS)}")
