"""A run's memory: the budget for media in flight, and the peak RSS its processes reached.

The pipeline's ``memory:`` setting bounds the decoded media held at once, whatever the inputs'
resolution or length. It is split here, in one place, between the three places media waits:

- a window being decoded in a worker (its frames, then their pickled copy on the way out);
- the queue of decoded windows between the workers and the models;
- the windows gathered for one model batch, which the frame stages turn into float tensors.

The process itself (Python, torch and the models) comes on top of the budget.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

MiB = 1 << 20
DEFAULT_MEMORY = 512 * MiB
# a batch's uint8 frames become float32 (4x) in each branch, which an encoder copies once more
BATCH_EXPANSION = 16
# frames per CNN call at inference: one chunk's activations are what a model stage adds to the
# batch (a bundle's training chunk may hold a whole window's frames; 16 runs as fast)
INFERENCE_CHUNK = 16


@dataclass(frozen=True)
class MemoryBudget:
    """Bytes of decoded media each part of a run may hold (see the module docstring)."""

    total: int

    @property
    def window_bytes(self) -> int:
        """Frames of one decoded window; a window is cut early to stay under it."""
        return max(MiB, self.total // 8)

    @property
    def queue_bytes(self) -> int:
        """Decoded windows waiting for the models."""
        return max(MiB, self.total // 4)

    @property
    def batch_bytes(self) -> int:
        """uint8 frames gathered into one model batch (their float copies take BATCH_EXPANSION x)."""
        return max(MiB, self.total // (2 * BATCH_EXPANSION))


def peak_rss_bytes(pid: int | None = None) -> int:
    """Peak resident memory (VmHWM) of ``pid`` (default: this process); 0 where it cannot be read."""
    try:
        for line in Path(f"/proc/{pid or os.getpid()}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if pid is None or pid == os.getpid():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return 0


def available_cores() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
