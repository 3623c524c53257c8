"""One-time conversion of a ``torch.save`` checkpoint into a safe bundle.

The checkpoint is read with ``torch.load(weights_only=True)``: PyTorch's restricted
unpickler, which rebuilds tensors and plain containers and refuses any other global,
so a malicious pickle cannot run code. The result is an ordinary bundle folder that
later loads with no unpickling at all.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from avseq.bundles.preprocessing import Preprocessing
from avseq.bundles.store import _default_builder, save_bundle
from avseq.bundles.weights import load_into
from avseq.errors import AvseqError, BundleError

STATE_KEYS = ("state_dict", "model_state_dict", "model", "weights", "system")


def _is_state(obj: Any) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def _strip_prefix(state: dict[str, torch.Tensor], prefix: str = "module.") -> dict[str, torch.Tensor]:
    if all(k.startswith(prefix) for k in state):
        return {k[len(prefix) :]: v for k, v in state.items()}
    return state


def read_checkpoint(pt_path: str | os.PathLike, key: str | None = None) -> dict[str, torch.Tensor]:
    """The state dict inside a ``torch.save`` file, read without running pickled code.

    Accepts a bare state dict or a dict holding one under ``key`` (default: the first of
    ``STATE_KEYS`` present); a DistributedDataParallel ``module.`` prefix is removed.
    """
    path = Path(pt_path)
    if not path.is_file():
        raise BundleError(f"{path}: checkpoint file does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise BundleError(
            f"{path}: refused: not a plain tensor checkpoint (loading it would need arbitrary code): {first}"
        ) from None
    if _is_state(obj):
        return _strip_prefix(obj)
    keys = [key] if key is not None else [k for k in STATE_KEYS if isinstance(obj, dict) and k in obj]
    for k in keys:
        if isinstance(obj, dict) and _is_state(obj.get(k)):
            return _strip_prefix(obj[k])
    found = sorted(map(str, obj))[:8] if isinstance(obj, dict) else type(obj).__name__
    raise BundleError(f"{path}: no state dict of tensors found (top level: {found}); pass key= to pick one")


def convert_checkpoint(
    pt_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    system: nn.Module | dict[str, Any],
    preprocessing: Preprocessing | dict[str, Any],
    *,
    tokenizer: Any | None = None,
    meta: dict[str, Any] | None = None,
    key: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Turn a ``.pt``/``.pth`` checkpoint into a bundle folder at ``out_dir``.

    ``system`` is a built module keeping its ``.config``, or a config dict for
    ``avseq.models.build_system``. The checkpoint's tensors must fit it exactly.
    Returns the bundle folder.
    """
    if isinstance(system, dict):
        try:
            system = _default_builder(system)
        except AvseqError as err:
            raise BundleError(f"cannot build the system to convert {pt_path}: {err}") from None
    state = read_checkpoint(pt_path, key)
    load_into(system, state, Path(pt_path))
    info = {"converted_from": Path(pt_path).name, **(meta or {})}
    return save_bundle(out_dir, system, preprocessing, tokenizer=tokenizer, meta=info, overwrite=overwrite)
