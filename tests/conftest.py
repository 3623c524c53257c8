"""Shared fixtures: tiny generated media, the shared real clips, device parametrization."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

SHARED_MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"


def pytest_collection_modifyitems(config, items):
    skip_gpu = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def shared_media() -> Path:
    """The folder of real sample clips (../shared/media); skips the test when it is absent."""
    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"real sample media not found at {SHARED_MEDIA}")
    return SHARED_MEDIA


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


@pytest.fixture
def one_thread():
    """One intra-op thread for tests of tiny models: faster than several (no OpenMP hand-offs) and
    steady on a busy machine. The previous count is restored."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def invoke():
    """Run the ``avseq`` command in process: ``invoke("run", pipeline, "-i", folder, ...)`` -> the
    click Result (arguments are turned into strings). An exception other than SystemExit
    propagates, so a crash fails the test with its traceback instead of passing as an exit code."""
    from click.testing import CliRunner

    from avseq.cli import main

    def run(*args: object):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run
