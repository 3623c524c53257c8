"""A bundle's weights file: its header read without loading, and the check that a system fits it.

A safetensors file is an 8-byte little-endian header length, a JSON header
(``{name: {dtype, shape, data_offsets}}``) and the tensors' bytes. :func:`read_header` reads and
checks the header alone, so the shapes and bytes a file holds are known, bounded by its size,
before any tensor is allocated. Tied parameters (one tensor under several names) are stored once
by ``safetensors.torch.save_model``; a name missing from the file is fine when another name of the
same tensor is present.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from avseq.errors import BundleError

# bytes per element of each safetensors dtype
DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
MAX_HEADER_BYTES = 100_000_000  # the safetensors library's own limit
MAX_WEIGHT_BYTES = 8 << 30  # the default cap on the bytes of a bundle's weights (load(..., max_bytes=))


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as a safetensors header describes it: dtype name, shape, bytes in the file."""

    dtype: str
    shape: tuple[int, ...]
    bytes: int


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_header(path: Path) -> dict[str, TensorEntry]:
    """The tensors a safetensors file holds, from its header alone (no tensor is read).

    Every entry is checked against the file: a known dtype, a shape of non-negative ints, and
    data offsets inside the file spanning exactly the bytes the shape takes, so the sizes
    returned never exceed the file's. Any problem raises BundleError naming the file and tensor.
    """
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            f.seek(0)
            if size < 8:
                raise BundleError(f"{path}: not a safetensors file ({size} bytes, no header length)")
            (length,) = struct.unpack("<Q", f.read(8))
            if length > size - 8:
                raise BundleError(f"{path}: header of {length} bytes is longer than the file ({size} bytes)")
            if length > MAX_HEADER_BYTES:
                raise BundleError(f"{path}: header of {length} bytes, over the cap of {MAX_HEADER_BYTES}")
            raw = f.read(length)
    except FileNotFoundError:
        raise BundleError(f"{path}: weights file is missing") from None
    except OSError as err:
        raise BundleError(f"{path}: cannot read the weights file ({err.strerror or err})") from None
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BundleError(f"{path}: header is not valid JSON ({err})") from None
    if not isinstance(header, dict):
        raise BundleError(f"{path}: header must be a JSON object, got {type(header).__name__}")
    data = size - 8 - length
    return {name: _entry(path, name, value, data) for name, value in header.items() if name != "__metadata__"}


def _entry(path: Path, name: str, value: object, data: int) -> TensorEntry:
    """One header entry checked against the ``data`` bytes that follow the header."""
    where = f"{path}: tensor {name!r}"
    if not isinstance(value, dict):
        raise BundleError(f"{where}: must be an object with dtype, shape and data_offsets")
    dtype, shape, offsets = value.get("dtype"), value.get("shape"), value.get("data_offsets")
    if dtype not in DTYPE_BYTES:
        raise BundleError(f"{where}: unknown dtype {dtype!r}; known: {', '.join(DTYPE_BYTES)}")
    if not isinstance(shape, list) or not all(_count(n) for n in shape):
        raise BundleError(f"{where}: shape must be a list of non-negative integers, got {shape!r}")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_count(n) for n in offsets):
        raise BundleError(f"{where}: data_offsets must be [begin, end] byte offsets, got {offsets!r}")
    begin, end = offsets
    if not begin <= end <= data:
        raise BundleError(f"{where}: data_offsets {offsets} reach past the {data} bytes of data")
    nbytes = math.prod(shape) * DTYPE_BYTES[dtype]
    if nbytes != end - begin:
        raise BundleError(
            f"{where}: shape {shape} of {dtype} takes {nbytes} bytes, but data_offsets {offsets} "
            f"hold {end - begin}"
        )
    return TensorEntry(dtype, tuple(shape), nbytes)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _alias_groups(state: dict[str, torch.Tensor]) -> dict[str, list[str]]:
    """name -> every name in ``state`` that shares its storage (itself included). Tensors on the
    ``meta`` device have no storage: there the state must hold the module's own tensors
    (``state_dict(keep_vars=True)``), and a tied tensor is the same object under each name."""
    by_storage: dict[tuple, list[str]] = defaultdict(list)
    for name, tensor in state.items():
        if tensor.is_meta:
            key: tuple = ("meta", id(tensor))
        else:
            key = (tensor.device, tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tensor.shape)
        by_storage[key].append(name)
    return {name: names for names in by_storage.values() for name in names}


def _listed(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" (+{len(names) - limit} more)" if len(names) > limit else "")


def mismatch(state: Mapping[str, torch.Tensor | TensorEntry], model: nn.Module) -> str | None:
    """Why tensors of these shapes (a state dict, or a file's :func:`read_header`) cannot fill
    ``model`` (missing / unexpected / shape, each named), or None. ``model`` may be on the
    ``meta`` device: only shapes are compared."""
    expected = model.state_dict(keep_vars=True)
    aliases = _alias_groups(expected)
    missing = [k for k in expected if k not in state and not any(a in state for a in aliases[k])]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} {tuple(expected[k].shape)} vs file {tuple(state[k].shape)}"
        for k in state
        if k in expected and tuple(state[k].shape) != tuple(expected[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} tensors: {_listed(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} tensors: {_listed(unexpected)}")
    if shapes:
        problems.append(f"shape mismatch: {_listed(shapes, 2)}")
    return "; ".join(problems) or None


def tensor_sizes(model: nn.Module) -> tuple[int, int]:
    """(elements, bytes) of ``model``'s state, a tied tensor counted once (``meta`` included)."""
    unique = {id(t): t for t in model.state_dict(keep_vars=True).values()}.values()
    return sum(t.numel() for t in unique), sum(t.numel() * t.element_size() for t in unique)


def check_fits(header: dict[str, TensorEntry], system: nn.Module, source: Path, max_bytes: int) -> None:
    """Refuse weights of ``header`` (:func:`read_header`) over ``max_bytes``, or that ``system``
    (built from the config, on the ``meta`` device: shapes only) cannot take, with a BundleError
    naming ``source``, both sizes and the differing tensors."""
    held = sum(entry.bytes for entry in header.values())
    if held > max_bytes:
        raise BundleError(
            f"{source}: weights take {held} bytes, over the cap of {max_bytes} bytes "
            f"(avseq.bundles.load(..., max_bytes=) sets it)"
        )
    problem = mismatch(header, system)
    if problem is not None:
        implied, implied_bytes = tensor_sizes(system)
        count = sum(math.prod(entry.shape) for entry in header.values())
        raise BundleError(
            f"{source}: weights do not match the system config: {problem}; system.config implies "
            f"{implied:,} parameters and buffers ({_human(implied_bytes)}), the file holds {count:,} "
            f"({_human(held)})"
        )


def _human(nbytes: int) -> str:
    """``1.2 GB``: decimal units."""
    if nbytes < 1000:
        return f"{nbytes} B"
    size, units = nbytes / 1000, ["kB", "MB", "GB", "TB", "PB"]
    while size >= 1000 and len(units) > 1:
        size, units = size / 1000, units[1:]
    return f"{size:.1f} {units[0]}"


def load_into(model: nn.Module, state: dict[str, torch.Tensor], source: Path | str) -> None:
    """Copy ``state`` into ``model``; a mismatch raises BundleError naming ``source`` and the problem."""
    problem = mismatch(state, model)
    if problem:
        raise BundleError(f"{source}: weights do not match the system config: {problem}")
    model.load_state_dict(state, strict=False)
