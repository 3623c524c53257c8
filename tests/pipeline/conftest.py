"""Fixtures of the pipeline tests (defined in pipeline_helpers, shared with tests/cli)."""

from tests.pipeline.pipeline_helpers import bundles, clips, dense_bundle  # noqa: F401
