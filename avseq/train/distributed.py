"""Distributed training under torchrun: process group, ranks, batch shards, metric reductions.

``torchrun --nproc_per_node N -m avseq train CONFIG`` starts N copies of ``avseq train``;
torchrun sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``
in each. :func:`process_group` reads them and joins the group (``nccl`` when the run's
device is CUDA, each rank on ``cuda:LOCAL_RANK``; ``gloo`` on CPU). Without those variables
every helper here is a no-op, so a plain ``avseq train`` is untouched.

How a distributed run divides the work:

- data: every rank draws the same epoch plan (:func:`avseq.train.data.epoch_plan`, same
  seed logic as one process) and trains on its own contiguous slice of each batch
  (:func:`shard_batches`), so ``train.batch_size`` is the global batch and the steps,
  schedule and resume arithmetic are those of a single process;
- gradients: the loss runs through :class:`SystemLoss` wrapped in
  ``DistributedDataParallel`` (:func:`wrap`), which averages gradients across ranks;
- side effects: rank 0 alone logs, shows progress, validates and writes checkpoints;
  the others wait at a :func:`barrier`. Logged losses and rates are reduced over ranks
  (:func:`reduce_step`).
"""

from __future__ import annotations

import datetime
import hashlib
import os
import random
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from avseq.errors import ConfigError
from avseq.train.config import TrainConfig
from avseq.train.steps import LossOptions, StepStats, batch_loss

ENV_KEYS = ("RANK", "LOCAL_RANK", "WORLD_SIZE")
# Rank 0 validates and checkpoints while the others wait at a barrier: allow a long validation.
TIMEOUT = datetime.timedelta(minutes=30)


@dataclass(frozen=True)
class Topology:
    """Where this process sits: global ``rank``, ``local_rank`` on its node, ``world_size``."""

    rank: int
    local_rank: int
    world_size: int


def topology_from_env(environ: Mapping[str, str] | None = None) -> Topology | None:
    """The topology torchrun describes in ``RANK`` / ``LOCAL_RANK`` / ``WORLD_SIZE``.

    None when ``WORLD_SIZE`` is unset (not launched by torchrun); a ConfigError
    naming the variable when one is missing or not a valid integer.
    """
    environ = os.environ if environ is None else environ
    if "WORLD_SIZE" not in environ:
        return None
    values: dict[str, int] = {}
    for key in ENV_KEYS:
        text = environ.get(key)
        if text is None:
            raise ConfigError(
                f"WORLD_SIZE is set but {key} is not; launch distributed training with torchrun"
            )
        try:
            values[key] = int(text)
        except ValueError:
            raise ConfigError(f"Invalid {key} {text!r}: expected an integer (torchrun sets it)") from None
    world, rank = values["WORLD_SIZE"], values["RANK"]
    if world < 1:
        raise ConfigError(f"Invalid WORLD_SIZE {world}: expected 1 or more")
    if not 0 <= rank < world:
        raise ConfigError(f"Invalid RANK {rank}: expected 0 to {world - 1} (WORLD_SIZE {world})")
    if values["LOCAL_RANK"] < 0:
        raise ConfigError(f"Invalid LOCAL_RANK {values['LOCAL_RANK']}: expected 0 or more")
    return Topology(rank, values["LOCAL_RANK"], world)


def is_distributed() -> bool:
    """Whether a process group is up (this process is one rank of a distributed run)."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's global rank: from the process group, else torchrun's ``RANK``, else 0."""
    if is_distributed():
        return dist.get_rank()
    topology = topology_from_env()
    return 0 if topology is None else topology.rank


def world_size() -> int:
    """Number of ranks in the process group (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """True on rank 0 (and in a single process): the rank that logs and writes files."""
    return rank() == 0


def barrier() -> None:
    """Wait until every rank gets here (no-op without a process group)."""
    if is_distributed():
        dist.barrier()


@contextmanager
def main_first() -> Iterator[None]:
    """Run the body on rank 0 first, then on the other ranks, which wait at a barrier.

    For work that fills shared folders (generated splits, the feature cache): rank 0
    does it once and the others find it done.
    """
    if not is_main():
        barrier()
    yield
    if is_main():
        barrier()


def backend_for(device: torch.device) -> str:
    """``"nccl"`` for CUDA devices, ``"gloo"`` for everything else (CPU)."""
    return "nccl" if device.type == "cuda" else "gloo"


def rank_device(device: torch.device) -> torch.device:
    """The device this rank trains on: ``cuda:LOCAL_RANK`` for CUDA under torchrun, else ``device``.

    Under torchrun an index in the config's ``train.device`` (``cuda:1``) is replaced
    by the local rank, so N ranks on a node use its first N GPUs.
    """
    topology = topology_from_env()
    if topology is None or device.type != "cuda":
        return device
    count = torch.cuda.device_count()
    if topology.local_rank >= count:
        raise ConfigError(
            f"LOCAL_RANK {topology.local_rank} has no GPU: {count} visible; "
            f"use --nproc_per_node {count} or fewer, or train.device=cpu"
        )
    return torch.device("cuda", topology.local_rank)


@contextmanager
def process_group(device: torch.device) -> Iterator[Topology | None]:
    """Join the process group torchrun describes for the body, then leave it.

    Yields the :class:`Topology` (None when not launched by torchrun: nothing is
    done). A group the caller already initialized is used as is and left up.
    On a clean exit every rank meets at a barrier before the group is destroyed.
    """
    topology = topology_from_env()
    if topology is None or is_distributed():
        yield topology
        return
    backend = backend_for(device)
    extra: dict[str, Any] = {}
    if backend == "nccl":
        extra["device_id"] = rank_device(device)
        torch.cuda.set_device(extra["device_id"])
    for key in ("MASTER_ADDR", "MASTER_PORT"):
        if key not in os.environ:
            raise ConfigError(
                f"WORLD_SIZE is set but {key} is not; launch distributed training with torchrun"
            )
    dist.init_process_group(
        backend, init_method="env://", rank=topology.rank, world_size=topology.world_size,
        timeout=TIMEOUT, **extra,
    )  # fmt: skip
    clean = False
    try:
        yield topology
        clean = True
    finally:
        if clean:
            dist.barrier()
        dist.destroy_process_group()


def check_batch_size(batch_size: int, ranks: int | None = None) -> None:
    """Refuse a global ``batch_size`` that does not split evenly over the ranks."""
    ranks = world_size() if ranks is None else ranks
    if batch_size % ranks:
        raise ConfigError(
            f"train.batch_size {batch_size} does not split evenly over {ranks} ranks; use a multiple "
            f"of {ranks} (it is the global batch: each rank trains on batch_size / {ranks} clips a step)"
        )


def shard_batches(
    batches: Sequence[Sequence[int]], rank_: int | None = None, ranks: int | None = None
) -> list[list[int]]:
    """This rank's slice of each batch of an epoch plan.

    batches: the plan's batches (lists of dataset indices), identical on every rank.
    Rank r of R gets items ``[r * k, (r + 1) * k)`` of each batch of ``k * R`` items, so the
    ranks' shards are disjoint and together are the plan. Single process: ``batches`` as is.
    """
    rank_ = rank() if rank_ is None else rank_
    ranks = world_size() if ranks is None else ranks
    if ranks == 1:
        return [list(b) for b in batches]
    shards = []
    for batch in batches:
        if len(batch) % ranks:
            raise ConfigError(
                f"a batch of {len(batch)} clips does not split evenly over {ranks} ranks; set "
                f"train.batch_size to a multiple of {ranks}, at most the number of training clips"
            )
        k = len(batch) // ranks
        shards.append(list(batch[rank_ * k : (rank_ + 1) * k]))
    return shards


class SystemLoss(nn.Module):
    """The training loss of a batch as a module's ``forward``, so that
    ``DistributedDataParallel`` sees the whole step and averages its gradients.

    ``forward(batch) -> loss`` (scalar tensor) is :func:`avseq.train.steps.batch_loss`.
    """

    def __init__(self, system: nn.Module, options: LossOptions) -> None:
        super().__init__()
        self.system = system
        self.options = options

    def forward(self, batch) -> torch.Tensor:
        return batch_loss(self.system, batch, self.options)


def wrap(system: nn.Module, options: LossOptions, device: torch.device) -> nn.Module | None:
    """A DDP-wrapped :class:`SystemLoss` over ``system`` (on ``device``); None without a process group.

    Pass it as ``train_step(..., forward=...)``. The system's parameters are shared,
    not copied: the optimizer and checkpoints keep using ``system``. DDP broadcasts
    rank 0's weights when wrapping, so every rank starts from the same state.
    """
    if not is_distributed():
        return None
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(SystemLoss(system, options), device_ids=ids, static_graph=True)


def seed_step(seed: int, step: int) -> None:
    """Seed torch, NumPy and Python from ``(seed, step, rank)`` before a step (no-op in one process).

    Each rank draws its own dropout masks, and a resumed run replays exactly the random
    numbers an uninterrupted one draws, whatever each rank consumed before (a single
    process restores its RNG states from the checkpoint instead).
    """
    if not is_distributed():
        return
    key = hashlib.sha256(f"avseq-step:{seed}:{step}:{rank()}".encode()).digest()
    value = int.from_bytes(key[:8], "little") >> 1
    torch.manual_seed(value)
    np.random.seed(value % 2**32)
    random.seed(value)


def _collective_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def reduce_step(stats: StepStats, rate: float) -> tuple[StepStats, float]:
    """``(stats with the loss averaged over ranks, rate summed over ranks)`` for logging.

    rate: clips per second on this rank. Gradient norm, clipping and learning rate
    already agree on every rank (DDP averaged the gradients). Single process: unchanged.
    """
    if not is_distributed():
        return stats, rate
    values = torch.tensor([stats.loss, rate], dtype=torch.float64, device=_collective_device())
    dist.all_reduce(values)
    return replace(stats, loss=float(values[0]) / world_size()), float(values[1])


def sync_buffers(module: nn.Module) -> None:
    """Give every rank rank 0's buffers (a collective: call it on all ranks; no-op in one process).

    DDP broadcasts rank 0's buffers (BatchNorm running statistics) at the start of each
    forward, so they are rank 0's throughout, as in its checkpoints; only the last
    step's update differs between ranks until this is called.
    """
    if not is_distributed():
        return
    for buffer in module.buffers():
        dist.broadcast(buffer.data, src=0)


def weights_digest(state: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over a state dict's names, dtypes, shapes and bytes (key order does not matter)."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def describe_ranks(system: nn.Module) -> dict[str, Any]:
    """Every rank's weights digest, gathered (a collective: call it on all ranks).

    Returns ``{"distributed": {"world_size", "backend", "weights_sha256": [per rank]}}``
    for the run summary, or ``{}`` without a process group. Ranks that disagree (which
    DDP should make impossible) get a RuntimeWarning.
    """
    if not is_distributed():
        return {}
    digests: list[Any] = [None] * world_size()
    dist.all_gather_object(digests, weights_digest(system.state_dict()))
    if len(set(digests)) > 1:
        warnings.warn(f"ranks ended with different weights: {digests}", RuntimeWarning, stacklevel=2)
    info = {"world_size": world_size(), "backend": dist.get_backend(), "weights_sha256": digests}
    return {"distributed": info}


def quiet(cfg: TrainConfig) -> TrainConfig:
    """``cfg`` with progress bars off on ranks other than 0 (unchanged on rank 0)."""
    if is_main() or not cfg.train.progress:
        return cfg
    return cfg.model_copy(update={"train": cfg.train.model_copy(update={"progress": False})})


class NullLog:
    """Stands in for :class:`avseq.train.logs.CsvLog` on ranks other than 0: writes nothing."""

    def write(self, row: Mapping[str, Any]) -> None:
        """Discard ``row``."""

    def close(self) -> None:
        """Nothing to close."""
