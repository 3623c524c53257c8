"""Declarative pipelines: YAML spec -> stage graph -> local executor.

Public API (docs/architecture.md):

- ``load_pipeline(path, overrides) -> PipelineSpec`` validates a pipeline file (ConfigError on any problem);
- ``STAGES``: the registry of stage types;
- ``expand_inputs(args, limit) -> list[InputItem]``: files, folders, globs, JSONL manifests -> safe ids;
- ``run_pipeline(spec, inputs, outdir, ...) -> RunSummary``: run it, writing ``OUTDIR/<id>/``,
  ``results.jsonl`` and ``summary.json``.

Each name is imported on first use: loading and planning a pipeline never import torch, so
``avseq validate`` is quick and a run's decode workers start before the models' libraries load.
"""

from avseq.lazy import lazy_package

_EXPORTS = {
    "STAGES": "avseq.pipeline.stages",
    "InputItem": "avseq.pipeline.inputs",
    "PipelineSpec": "avseq.pipeline.spec",
    "RunSummary": "avseq.pipeline.recorder",
    "StageSpec": "avseq.pipeline.spec",
    "describe": "avseq.pipeline.graph",
    "expand_inputs": "avseq.pipeline.inputs",
    "load_pipeline": "avseq.pipeline.loading",
    "parse_pipeline": "avseq.pipeline.loading",
    "run_pipeline": "avseq.pipeline.executor",
}
__all__ = lazy_package(__name__, _EXPORTS)
