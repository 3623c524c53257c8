"""Fixtures of the hostile-input tests: the pipeline tests' tiny bundles and clips."""

from tests.pipeline.pipeline_helpers import bundles, clips  # noqa: F401
from tests.train.conftest import tiny_config, tiny_data_root  # noqa: F401
