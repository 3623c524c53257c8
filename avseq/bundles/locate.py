"""Where a bundle is (a folder, its bundle.json, or a bundled name) and what its bundle.json says
of its inputs: read without the weights, and without importing torch (loading a pipeline uses it).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from avseq.bundles.document import DOCUMENT, read_document
from avseq.bundles.preprocessing import Preprocessing
from avseq.errors import BundleError

PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle")


def _bundled_root() -> Path:
    return Path(str(resources.files("avseq.bundles") / "data"))


def list_bundled() -> list[str]:
    """Names of the bundles shipped inside the package (``avseq/bundles/data/<name>/``), sorted."""
    root = _bundled_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / DOCUMENT).is_file())


def resolve(name_or_path: str | os.PathLike) -> Path:
    """The bundle folder for a path (folder or its bundle.json) or a bundled name.

    Pickled checkpoints (.pt/.pth/...) are refused with directions to ``convert_checkpoint``.
    """
    path = Path(name_or_path)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise BundleError(
            f"{path}: refusing to load a pickled checkpoint; bundles are weights.safetensors + "
            f"bundle.json. Convert it once with avseq.bundles.convert_checkpoint('{path}', out_dir, "
            "system, preprocessing), which reads tensors only (torch.load(weights_only=True))"
        )
    if path.is_dir():
        return path
    if path.is_file() and path.name == DOCUMENT:
        return path.parent
    if path.exists():
        raise BundleError(f"{path}: not a bundle folder (expected a folder holding {DOCUMENT})")
    if isinstance(name_or_path, str) and name_or_path in list_bundled():
        return _bundled_root() / name_or_path
    names = ", ".join(list_bundled()) or "(none)"
    raise BundleError(
        f"No bundle {str(name_or_path)!r}: no such folder and no bundled name. Bundled: {names}"
    )


def read_preprocessing(name_or_path: str | os.PathLike) -> Preprocessing:
    """The Preprocessing of a bundle (bundled name or folder), read from bundle.json alone (no weights)."""
    return Preprocessing.from_dict(read_document(resolve(name_or_path))["preprocessing"])
