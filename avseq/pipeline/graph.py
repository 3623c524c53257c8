"""The stage graph: duplicate ids, missing inputs, cycles, value kinds, an output stage, topological order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from avseq.errors import ConfigError
from avseq.pipeline.stages import STAGES

if TYPE_CHECKING:
    from avseq.pipeline.spec import PipelineSpec, StageSpec


def check_graph(stages: Sequence[StageSpec], source: str) -> None:
    """Raise ConfigError for duplicate ids, unknown inputs, wrong roles or kinds, cycles."""
    ids = [s.id for s in stages]
    for i, s in enumerate(stages):
        if ids.index(s.id) != i:
            raise ConfigError(
                f"{source}: stages[{i}].id: duplicate stage id {s.id!r} (also stages[{ids.index(s.id)}])"
            )
    by_id = {s.id: s for s in stages}
    for i, s in enumerate(stages):
        for name in s.input:
            if name not in by_id:
                raise ConfigError(
                    f"{source}: stages[{i}].input: stage {s.id!r} reads unknown stage {name!r}; "
                    f"stages: {', '.join(by_id)}"
                )
    cycle = find_cycle(stages)
    if cycle:
        raise ConfigError(f"{source}: stages form a cycle: {' -> '.join(cycle)}")
    for i, s in enumerate(stages):
        _check_inputs(s, i, by_id, source)
    _check_single_sources(stages, source)


def _check_inputs(s: StageSpec, i: int, by_id: dict[str, StageSpec], source: str) -> None:
    st = STAGES.get(s.type)
    where = f"{source}: stages[{i}].input"
    lo, hi = st.inputs
    if not lo <= len(s.input) <= hi:
        want = (
            "no input (it reads the input file)"
            if hi == 0
            else f"{lo}..{hi} input(s)"
            if lo != hi
            else f"{lo} input(s)"
        )
        raise ConfigError(f"{where}: stage {s.id!r} ({s.type}) takes {want}, got {s.input or 'none'}")
    for name in s.input:
        up = STAGES.get(by_id[name].type)
        if up.produces is None:
            raise ConfigError(f"{where}: stage {name!r} ({up.name}) is a sink and produces nothing to read")
        if up.produces not in st.accepts:
            raise ConfigError(
                f"{where}: stage {s.id!r} ({s.type}) cannot read {name!r}, which produces {up.produces}; "
                f"{s.type} accepts: {', '.join(st.accepts)}"
            )
    kinds = [STAGES.get(by_id[n].type).produces for n in s.input]
    for kind in set(kinds):
        if kinds.count(kind) > 1:
            raise ConfigError(f"{where}: stage {s.id!r} reads two inputs of kind {kind}: {s.input}")


def _check_single_sources(stages: Sequence[StageSpec], source: str) -> None:
    for kind in ("decode_video", "decode_audio"):
        found = [s.id for s in stages if s.type == kind]
        if len(found) > 1:
            raise ConfigError(
                f"{source}: only one {kind} stage is allowed (one decode feeds every branch), got {found}"
            )


def check_outputs(stages: Sequence[StageSpec], source: str) -> None:
    """A pipeline file must write something: refuse one without a sink, naming each stage whose
    value no stage reads and the output stages that could write it (a run of it would report
    every file ok and write nothing)."""
    sinks = [name for name in STAGES.list() if STAGES.get(name).role == "sink"]
    if any(s.type in sinks for s in stages):
        return
    read = {name for s in stages for name in s.input}
    unread = []
    for s in stages:
        kind = STAGES.get(s.type).produces
        if s.id not in read and kind is not None:
            writers = [name for name in sinks if kind in STAGES.get(name).accepts]
            readers = [name for name in STAGES.list() if kind in STAGES.get(name).accepts]
            add = (
                f"add a {' or '.join(writers)} stage reading it"
                if writers
                else f"add a {' or '.join(readers)} stage reading it, then an output stage"
            )
            unread.append(f"stage {s.id!r} ({s.type}) makes {kind} that no stage reads: {add}")
    raise ConfigError(
        f"{source}: stages: no output stage, so a run would write nothing; {'; '.join(unread)} "
        f"(output stages: {', '.join(sorted(sinks))})"
    )


def find_cycle(stages: Sequence[StageSpec]) -> list[str]:
    """The ids along one cycle (first id repeated at the end), or [] when the graph is acyclic."""
    inputs = {s.id: s.input for s in stages}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for up in inputs.get(node, []):
            if state.get(up) == 1:
                return [*path[path.index(up) :], up][::-1]
            if up not in state and (found := visit(up)):
                return found
        state[node] = 2
        path.pop()
        return []

    for s in stages:
        if s.id not in state and (found := visit(s.id)):
            return found
    return []


def topological_order(stages: Sequence[StageSpec]) -> list[StageSpec]:
    """Stages sorted so that every stage comes after its inputs (file order kept where free)."""
    done: set[str] = set()
    out: list[StageSpec] = []
    pending = list(stages)
    while pending:
        ready = next(s for s in pending if all(i in done for i in s.input))
        out.append(ready)
        done.add(ready.id)
        pending.remove(ready)
    return out


def describe(spec: PipelineSpec) -> str:
    """A readable listing of the resolved graph (what ``avseq validate`` prints)."""
    lines = [
        f"pipeline {spec.path}",
        f"  executor={spec.executor} device={spec.device} precision={spec.precision} "
        f"batch_size={spec.batch_size} workers={spec.workers} timeout={spec.timeout}s "
        f"memory={spec.memory.human_readable()}",
    ]
    for s in spec.stages:
        st = STAGES.get(s.type)
        arrow = f" <- {', '.join(s.input)}" if s.input else ""
        makes = f" -> {st.produces}" if st.produces else ""
        if st.outputs:
            makes = f" -> {', '.join(st.outputs(s.params).values())}"
        dev = f" on {s.device}" if s.device else ""
        params = s.params.model_dump(exclude_none=True) if hasattr(s.params, "model_dump") else s.params
        lines.append(f"  {s.id} [{s.type}, {st.role}{dev}]{arrow}{makes}")
        if params:
            lines.append(f"      {', '.join(f'{k}={v}' for k, v in params.items())}")
        for need in spec.needs_of(s.id) if st.role == "source" else []:
            size = "x".join(map(str, need.size)) if need.size else "as decoded"
            lines.append(f"      for {need.consumer}: {need.sampling()}, {size} ({need.transform})")
    return "\n".join(lines)
