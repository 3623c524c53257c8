"""Training state on disk without pickle: tensors in safetensors, the rest in JSON.

``state.safetensors`` holds the model weights (``model.*``), the optimizer's
per-parameter tensors flattened as ``optimizer.<param index>.<name>`` and the
torch RNG states (``rng.*``); ``state.json`` holds the step, the optimizer's
param groups and scalar state, the scheduler state, Python's and NumPy's RNG
states and any extra numbers the loop keeps (best metric, ...).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
import torch

from avseq.errors import CheckpointError
from avseq.io.atomic import atomic_path, write_text_atomic

TENSORS = "state.safetensors"
DOCUMENT = "state.json"
FORMAT = 1


def flatten_optimizer(state: dict) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into flat tensors and a JSON-able rest."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, per_param in state["state"].items():
        for name, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{name}"] = value.detach().contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = value
    groups = [
        {k: list(v) if isinstance(v, tuple) else v for k, v in g.items()} for g in state["param_groups"]
    ]
    return tensors, {"param_groups": groups, "scalars": scalars}


def unflatten_optimizer(tensors: dict[str, torch.Tensor], rest: dict[str, Any]) -> dict:
    """Inverse of :func:`flatten_optimizer`."""
    per_param: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            per_param.setdefault(int(index), {})[name] = value
    for index, values in rest["scalars"].items():
        per_param.setdefault(int(index), {}).update(values)
    groups = [
        {k: tuple(v) if isinstance(v, list) and k != "params" else v for k, v in g.items()}
        for g in rest["param_groups"]
    ]
    return {"state": dict(sorted(per_param.items())), "param_groups": groups}


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Current torch (CPU and CUDA), NumPy and Python RNG states as tensors + JSON."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    tensors["rng.numpy"] = torch.from_numpy(np_keys.astype(np.int64))
    py_version, py_internal, py_gauss = random.getstate()
    rest = {
        "numpy": [np_name, int(np_pos), int(np_has_gauss), float(np_gauss)],
        "python": [py_version, list(py_internal), py_gauss],
    }
    return tensors, rest


def set_rng_state(tensors: dict[str, torch.Tensor], rest: dict[str, Any]) -> None:
    """Restore the states captured by :func:`rng_state`."""
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    name, pos, has_gauss, gauss = rest["numpy"]
    np.random.set_state((name, tensors["rng.numpy"].numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, py_gauss = rest["python"]
    random.setstate((version, tuple(internal), py_gauss))


def save_training_state(
    directory: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    step: int,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``state.safetensors`` and ``state.json`` into ``directory`` (each atomically)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    opt_tensors, opt_rest = flatten_optimizer(optimizer.state_dict())
    rng_tensors, rng_rest = rng_state()
    model_tensors = {f"model.{k}": v.detach().contiguous() for k, v in model.state_dict().items()}
    tensors = {**model_tensors, **opt_tensors, **rng_tensors}
    tensors = {k: v.cpu() for k, v in tensors.items()}
    with atomic_path(directory / TENSORS) as tmp:
        safetensors.torch.save_file(tensors, str(tmp))
    doc = {
        "format": FORMAT,
        "step": step,
        "optimizer": opt_rest,
        "scheduler": scheduler.state_dict(),
        "rng": rng_rest,
        "extra": extra or {},
    }
    write_text_atomic(directory / DOCUMENT, json.dumps(doc))


def load_training_state(
    directory: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
) -> tuple[int, dict[str, Any]]:
    """Restore model, optimizer, scheduler and RNG states; return ``(step, extra)``."""
    directory = Path(directory)
    for name in (TENSORS, DOCUMENT):
        if not (directory / name).is_file():
            raise CheckpointError(f"{directory}: incomplete training checkpoint, {name} is missing")
    doc = json.loads((directory / DOCUMENT).read_text())
    if doc.get("format") != FORMAT:
        raise CheckpointError(f"{directory}: unsupported checkpoint format {doc.get('format')!r}; expected 1")
    tensors = safetensors.torch.load_file(str(directory / TENSORS))
    weights = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise CheckpointError(f"{directory}: weights do not fit the model ({first})") from None
    opt = unflatten_optimizer(tensors, doc["optimizer"])  # load_state_dict moves to the params' device
    optimizer.load_state_dict(opt)
    scheduler.load_state_dict(doc["scheduler"])
    set_rng_state(tensors, doc["rng"])
    return int(doc["step"]), doc["extra"]
