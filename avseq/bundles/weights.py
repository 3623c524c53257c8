"""Putting a state dict into a built system, with a clear error when they do not match.

Tied parameters (one tensor under several names) are stored once by
``safetensors.torch.save_model``; a name missing from the file is fine when another
name of the same tensor is present.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

import torch
from torch import nn

from avseq.errors import BundleError


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _alias_groups(state: dict[str, torch.Tensor]) -> dict[str, list[str]]:
    """name -> every name in ``state`` that shares its storage (itself included)."""
    by_storage: dict[tuple, list[str]] = defaultdict(list)
    for name, tensor in state.items():
        key = (tensor.device, tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tensor.shape)
        by_storage[key].append(name)
    return {name: names for names in by_storage.values() for name in names}


def _listed(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" (+{len(names) - limit} more)" if len(names) > limit else "")


def mismatch(state: dict[str, torch.Tensor], model: nn.Module) -> str | None:
    """Why ``state`` cannot load into ``model`` (missing / unexpected / shape), or None."""
    expected = model.state_dict()
    aliases = _alias_groups(expected)
    missing = [k for k in expected if k not in state and not any(a in state for a in aliases[k])]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in state
        if k in expected and state[k].shape != expected[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} tensors: {_listed(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} tensors: {_listed(unexpected)}")
    if shapes:
        problems.append(f"shape mismatch: {_listed(shapes, 2)}")
    return "; ".join(problems) or None


def load_into(model: nn.Module, state: dict[str, torch.Tensor], source: Path | str) -> None:
    """Copy ``state`` into ``model``; a mismatch raises BundleError naming ``source`` and the problem."""
    problem = mismatch(state, model)
    if problem:
        raise BundleError(f"{source}: weights do not match the system config: {problem}")
    model.load_state_dict(state, strict=False)
