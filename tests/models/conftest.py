"""Model tests use tiny tensors: one intra-op thread is faster than several (no OpenMP
hand-offs) and keeps the suite steady on a busy machine. The previous count is restored."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every model test runs on one thread (tests/conftest.py)."""
