"""Plan the graph once from what each stage type declares (see :mod:`avseq.pipeline.stages.contract`).

First each stage's bundle is checked against the kinds its type runs (``bundle_kinds``, read
from bundle.json alone: a caption bundle in a ``sound`` stage is refused here, not on every
file). Then two passes over the validated spec, at load time, before any input is touched:

1. forward: each stage's ``provides`` (e.g. a ``sound`` stage's mel recipe), read downstream by key;
2. backward, consumers first: each stage gets the needs of the stages that read it, and its
   ``needs`` hook says what it needs from its own inputs (filling its own unset params, refusing
   contradictions). The decode stages end up with the union of every branch's needs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from avseq.errors import AvseqError, ConfigError
from avseq.pipeline.stages import STAGES
from avseq.pipeline.stages.contract import Need, NeedContext

if TYPE_CHECKING:
    from avseq.pipeline.spec import PipelineSpec, StageSpec


def plan_graph(spec: PipelineSpec, source: str, index: dict[str, int]) -> None:
    """Fill ``spec``'s provided facts and planned needs; ConfigError names the file and key path."""
    ctx = NeedContext(spec, source, index)
    for stage in spec.stages:
        check_bundle_kind(stage, ctx)
    spec._provides = {}
    for stage in spec.stages:  # topological order: inputs first
        provides = STAGES.get(stage.type).provides
        if provides is not None:
            spec._provides[stage.id] = provides(stage, ctx)
    wanted: dict[str, list[Need]] = {s.id: [] for s in spec.stages}
    for stage in reversed(spec.stages):  # consumers first
        needs = STAGES.get(stage.type).needs
        if needs is None:
            continue
        for need in needs(stage, wanted[stage.id], ctx):
            for up in stage.input:
                wanted[up].append(replace(need, consumer=stage.id))
    spec._needs = wanted


def check_bundle_kind(stage: StageSpec, ctx: NeedContext) -> None:
    """Refuse a ``bundle`` whose kind the stage's type does not run (its ``bundle_kinds``),
    naming the stage, ``params.bundle``, the bundle's kind and the kinds allowed."""
    kinds = STAGES.get(stage.type).bundle_kinds
    if not kinds:
        return
    from avseq.bundles import resolve
    from avseq.bundles.document import read_document

    bundle = stage.params.bundle
    try:
        kind = read_document(resolve(bundle))["kind"]
    except AvseqError as err:
        raise ConfigError(f"{ctx.where(stage, 'params.bundle')}: {err}") from None
    if kind not in kinds:
        raise ConfigError(
            f"{ctx.where(stage, 'params.bundle')} ({stage.id}): bundle {bundle!r} is a {kind} bundle; "
            f"a {stage.type} stage runs bundles of kind: {', '.join(kinds)}"
        )
