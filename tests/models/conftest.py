"""Model tests use tiny tensors: one intra-op thread is faster than several (no OpenMP
hand-offs) and keeps the suite steady on a busy machine. The previous count is restored."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
