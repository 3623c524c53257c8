"""Read a pipeline file: safe YAML -> overrides -> typed spec -> graph checks -> planned needs.

This is the one entry point that runs every check, in order, before any input is touched.
:func:`parse_pipeline` validates a mapping the same way but may be a fragment (a graph with no
output stage, as tests and tools plan a decode from); :func:`load_pipeline`, which ``avseq
validate`` and ``avseq run`` use, also requires an output stage, so a file that validates writes
something when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from avseq.config import read_yaml, validate
from avseq.errors import ConfigError
from avseq.pipeline.graph import check_graph, check_outputs, topological_order
from avseq.pipeline.overrides import apply_overrides
from avseq.pipeline.planning import plan_graph
from avseq.pipeline.spec import TOP_LEVEL_KEYS, PipelineSpec, normalize_inputs, validate_params
from avseq.shipped import resolve


def load_pipeline(path: str | Path, overrides: list[str] | None = None) -> PipelineSpec:
    """Read, override and validate a pipeline file (a path, or the name of a shipped one:
    ``caption_and_sound``, see :mod:`avseq.shipped`).

    overrides: ``KEY=VALUE`` strings, e.g. ``stages.caption.params.beam_size=5``
    (stages addressed by id) or ``batch_size=4``; values are parsed as YAML scalars.
    Raises ConfigError naming the file, the key path, the bad value and the choices; a file
    without an output stage is refused too (see :func:`~avseq.pipeline.graph.check_outputs`).
    """
    path = resolve("pipeline", path)
    raw = read_yaml(path, "pipeline file")
    spec = parse_pipeline(raw, source=str(path), overrides=overrides)
    check_outputs(spec.stages, str(path))
    return spec


def parse_pipeline(raw: Any, source: str = "<pipeline>", overrides: list[str] | None = None) -> PipelineSpec:
    """Validate an already-loaded mapping (see :func:`load_pipeline`)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: a pipeline file must be a mapping with 'version' and 'stages'")
    raw = apply_overrides(raw, overrides or [], source, TOP_LEVEL_KEYS)
    normalize_inputs(raw)
    spec = validate(PipelineSpec, raw, source)
    spec.path = source
    validate_params(spec, source)
    check_graph(spec.stages, source)
    index = {s.id: i for i, s in enumerate(spec.stages)}
    spec.stages = topological_order(spec.stages)
    plan_graph(spec, source, index)
    return spec
