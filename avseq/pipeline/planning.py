"""Plan the graph once from what each stage type declares (see :mod:`avseq.pipeline.stages.contract`).

Two passes over the validated spec, at load time, before any input is touched:

1. forward: each stage's ``provides`` (e.g. a ``sound`` stage's mel recipe), read downstream by key;
2. backward, consumers first: each stage gets the needs of the stages that read it, and its
   ``needs`` hook says what it needs from its own inputs (filling its own unset params, refusing
   contradictions). The decode stages end up with the union of every branch's needs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from avseq.pipeline.stages import STAGES
from avseq.pipeline.stages.contract import Need, NeedContext

if TYPE_CHECKING:
    from avseq.pipeline.spec import PipelineSpec


def plan_graph(spec: PipelineSpec, source: str, index: dict[str, int]) -> None:
    """Fill ``spec``'s provided facts and planned needs; ConfigError names the file and key path."""
    ctx = NeedContext(spec, source, index)
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
