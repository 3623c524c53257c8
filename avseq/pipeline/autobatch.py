"""``batch_size: auto``: the most clips per model batch that the model device's free memory holds.

Measured once per run, after the models are loaded (their weights are out of the free memory
by then): the device's free bytes (``torch.cuda.mem_get_info``) times :data:`HEADROOM`, divided
by what one clip takes on the device. That is what the source stages state a window of theirs
holds at most (``clip_bytes()``: uint8 frames, bounded by the window's share of the ``memory:``
budget) times :data:`~avseq.pipeline.memory.BATCH_EXPANSION`, the factor the host's batch budget
uses for the float copies the frame stages and encoders make. The result is clamped to
``[1, MAX_BATCH]``. On the CPU ``auto`` is :data:`CPU_BATCH` (a pipeline file's default): there
the ``memory:`` budget already bounds what a batch holds.

The estimate errs on the large side of a clip (a whole window at the largest frame size), and a
batch that still does not fit is run again in halves (:mod:`avseq.pipeline.batching`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from avseq.pipeline.memory import BATCH_EXPANSION

if TYPE_CHECKING:
    import torch

    from avseq.pipeline.plan import Plan

CPU_BATCH = 8  # batch_size: auto on the CPU
MAX_BATCH = 256  # the most clips auto puts in one batch
HEADROOM = 0.5  # share of the free device memory the batches may fill (allocator cache, workspaces)


@dataclass(frozen=True)
class BatchSize:
    """A run's batch size and, for ``auto``, what it came from (bytes; None where not measured)."""

    size: int
    auto: bool = False
    device: str = "cpu"
    free_bytes: int | None = None
    clip_bytes: int | None = None

    def summary(self) -> dict[str, Any]:
        """summary.json's ``batch_size_auto`` entry: how auto chose."""
        return {"device": self.device, "free_bytes": self.free_bytes, "clip_bytes": self.clip_bytes}


def auto_batch_size(
    free_bytes: int, clip_bytes: int, headroom: float = HEADROOM, cap: int = MAX_BATCH
) -> int:
    """Clips of ``clip_bytes`` that fit in ``headroom`` of ``free_bytes``, within ``[1, cap]``."""
    return max(1, min(cap, int(free_bytes * headroom) // max(1, clip_bytes)))


def device_free_bytes(device: torch.device) -> int:
    """Free memory of the CUDA ``device`` in bytes, as the driver reports it."""
    import torch

    free, _total = torch.cuda.mem_get_info(device)
    return int(free)


def clip_device_bytes(plan: Plan) -> int:
    """Bytes one clip is expected to take on the model device (see the module docstring)."""
    plan.build(("source",))  # torch-free; a Ray model actor has not built them
    stated = [plan.objects[s.id].clip_bytes() for s in plan.sources]
    return max(1, sum(stated)) * BATCH_EXPANSION


def resolve_batch_size(plan: Plan) -> BatchSize:
    """The run's batch size: the file's number, or ``auto`` measured for the batch stages' devices.

    Call it once the models are loaded (their weights then count as used memory).
    """
    setting = plan.spec.batch_size
    if setting != "auto":
        return BatchSize(setting)
    cuda = sorted({str(d) for d in (plan.context.device(s) for s in plan.batch) if d.type == "cuda"})
    if not cuda:
        return BatchSize(CPU_BATCH, auto=True)
    import torch

    free = min(device_free_bytes(torch.device(d)) for d in cuda)
    clip = clip_device_bytes(plan)
    return BatchSize(auto_batch_size(free, clip), True, ",".join(cuda), free, clip)
