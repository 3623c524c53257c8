"""What a stage needs from its input and what its output carries: the records stage types declare.

A stage type states two things the planner (:mod:`avseq.pipeline.planning`) reads, once, at
validation time, so no stage ever looks up a sibling by its type name:

- ``needs(stage, wanted, ctx) -> list[Need]``: given what its consumers need from it
  (``wanted``), what it needs from its own inputs. A stage may fill its own unset params
  from ``wanted`` (a ``frames`` stage takes its size from the bundle downstream) and must
  raise :class:`~avseq.errors.ConfigError` when a value its file sets contradicts them.
- ``provides(stage) -> dict``: facts about its output that stages downstream may read by
  key (a ``sound`` stage provides its bundle's ``mel_recipe``; a vocoder reads it).

The decode stages receive the union of their consumers' needs and plan one decode from it:
every sampling any branch asks for, scaled in the decoder to cover the largest frame size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from avseq.errors import ConfigError
from avseq.io.sampling import same_rate

if TYPE_CHECKING:
    from avseq.pipeline.spec import PipelineSpec, StageSpec

Transform = Literal["fit", "resize"]


@dataclass(frozen=True)
class FrameNeed:
    """Frames one consumer needs.

    consumer: id of the stage that reads them (set by the planner when the need is passed on).
    fps / num_frames: its sampling (neither: every frame it is given). size: (H, W) it uses in
    the end (None: as decoded); transform: how it gets there ("fit" covers and center-crops,
    "resize" stretches). origin: who asked, for messages; bundle: the bundle behind the need.
    """

    fps: float | None = None
    num_frames: int | None = None
    size: tuple[int, int] | None = None
    transform: Transform = "fit"
    consumer: str = ""
    origin: str = ""
    bundle: str | None = None

    def sampling(self) -> str:
        """``15 fps``, ``16 frames`` or ``every frame``."""
        if self.fps is not None:
            return f"{self.fps:g} fps"
        return f"{self.num_frames} frames" if self.num_frames is not None else "every frame"


Need = FrameNeed  # the one kind of need so far; an audio need would join it here


@dataclass
class NeedContext:
    """What a ``needs`` hook may use: the spec, the file name and each stage's index in it."""

    spec: PipelineSpec
    source: str
    index: dict[str, int]

    def where(self, stage: StageSpec, key: str = "params") -> str:
        """``FILE: stages[i].KEY`` for messages about ``stage``."""
        return f"{self.source}: stages[{self.index[stage.id]}].{key}"

    def provided(self, stage: StageSpec, key: str) -> Any:
        """The nearest upstream stage's declared ``key`` (see ``provides``), or None."""
        return self.spec.provided(stage.id, key)


def frame_needs(wanted: list[Need]) -> list[FrameNeed]:
    """The frame needs among ``wanted`` (the only kind so far)."""
    return [n for n in wanted if isinstance(n, FrameNeed)]


def agree(stage: StageSpec, key: str, needs: list[FrameNeed], ctx: NeedContext) -> Any:
    """The one value of ``key`` that ``needs`` ask of ``stage``, reconciled with its params.

    A value the file sets must equal every need's (ConfigError naming both); two needs that
    differ cannot share one stage. Returns the value the stage should use (None when nobody asks).
    """
    asked = [n for n in needs if getattr(n, key) is not None]
    params = stage.params
    mine = getattr(params, key, None) if key in params.model_fields_set else None
    for need in asked:
        value = getattr(need, key)
        if mine is not None and not _same(mine, value):
            raise ConfigError(
                f"{ctx.where(stage)} ({stage.id}) sets {key}={_show(mine)} but {need.origin} needs "
                f"{key}={_show(value)}; remove the key or use a matching bundle"
            )
        if not _same(value, getattr(asked[0], key)):
            raise ConfigError(
                f"{ctx.where(stage)} ({stage.id}): {need.origin} needs {key}={_show(value)} but "
                f"{asked[0].origin} needs {key}={_show(getattr(asked[0], key))}; give each its own "
                f"{stage.type} stage"
            )
    if mine is not None:
        return mine
    return getattr(asked[0], key) if asked else getattr(params, key, None)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return same_rate(float(a), float(b))
    if isinstance(a, (list, tuple)):
        return list(a) == list(b)
    return a == b


def _show(value: Any) -> str:
    return f"[H, W]={list(value)}" if isinstance(value, (list, tuple)) else repr(value)
