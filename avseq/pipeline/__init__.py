"""Declarative pipelines: YAML spec -> stage graph -> local executor.

Public API (docs/architecture.md):

- ``load_pipeline(path, overrides) -> PipelineSpec`` validates a pipeline file (ConfigError on any problem);
- ``STAGES``: the registry of stage types;
- ``expand_inputs(args, limit) -> list[InputItem]``: files, folders, globs, JSONL manifests -> safe ids;
- ``run_pipeline(spec, inputs, outdir, ...) -> RunSummary``: run it, writing ``OUTDIR/<id>/``,
  ``results.jsonl`` and ``summary.json``.
"""

from avseq.pipeline.executor import run_pipeline
from avseq.pipeline.graph import describe
from avseq.pipeline.inputs import InputItem, expand_inputs
from avseq.pipeline.loading import load_pipeline, parse_pipeline
from avseq.pipeline.recorder import RunSummary
from avseq.pipeline.spec import PipelineSpec, StageSpec
from avseq.pipeline.stages import STAGES

__all__ = [
    "STAGES",
    "InputItem",
    "PipelineSpec",
    "RunSummary",
    "StageSpec",
    "describe",
    "expand_inputs",
    "load_pipeline",
    "parse_pipeline",
    "run_pipeline",
]
