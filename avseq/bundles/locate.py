"""Where a bundle is (a folder, its bundle.json, or a bundled name) and what its bundle.json says
of its inputs and of itself (its card): read without the weights, and without importing torch
(loading a pipeline and ``avseq bundles`` use it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from avseq.bundles.card import FeatureStats, ModelCard
from avseq.bundles.document import DOCUMENT, read_document, read_feature_stats
from avseq.bundles.document import read_card as read_card_of
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


@dataclass(frozen=True)
class BundleCard:
    """What ``avseq bundles`` lists of one bundle, read from its bundle.json alone.

    card / feature_stats: None for a bundle saved without them (format_version 1 has neither);
    problem: why the bundle.json could not be read (then only ``path`` is known).
    """

    name: str
    path: Path
    shipped: bool
    kind: str = ""
    version: str = ""
    card: ModelCard | None = None
    feature_stats: FeatureStats | None = None
    problem: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: the card in full; of the statistics, what they were computed on and the threshold."""
        stats = self.feature_stats
        domain = None
        if stats is not None:
            domain = {"source": stats.source, "clips": stats.clips, "method": stats.method,
                      "threshold": stats.threshold, "train_scores": stats.train_scores,
                      "calibration": stats.calibration}  # fmt: skip
        return {
            "name": self.name,
            "kind": self.kind,
            "version": self.version,
            "path": str(self.path),
            "shipped": self.shipped,
            "card": None if self.card is None else self.card.to_dict(),
            "domain_check": domain,
            "problem": self.problem,
        }


def read_card(name_or_path: str | os.PathLike) -> BundleCard:
    """The card of a bundle (bundled name or folder); BundleError when it cannot be found or read."""
    folder = resolve(name_or_path)
    doc = read_document(folder)
    path = folder / DOCUMENT
    return BundleCard(
        name=str(doc.get("name") or folder.name),
        path=folder,
        shipped=folder.parent == _bundled_root(),
        kind=str(doc["kind"]),
        version=str(doc.get("version", "")),
        card=read_card_of(doc, path),
        feature_stats=read_feature_stats(doc, path),
    )


def list_cards(folder: str | os.PathLike | None = None) -> list[BundleCard]:
    """The cards of the shipped bundles, or of the bundles in ``folder`` (itself a bundle, or
    holding bundle folders at any depth), sorted by path. A bundle whose bundle.json is broken is
    listed with its ``problem``; a folder holding no bundle raises BundleError."""
    if folder is None:
        return [read_card(name) for name in list_bundled()]
    root = Path(folder)
    if not root.is_dir():
        raise BundleError(f"{root}: not a folder")
    found = [root] if (root / DOCUMENT).is_file() else sorted(p.parent for p in root.rglob(DOCUMENT))
    if not found:
        raise BundleError(f"{root}: no bundle there (no {DOCUMENT} in it or below it)")
    return [_card_or_problem(p) for p in found]


def _card_or_problem(folder: Path) -> BundleCard:
    try:
        return read_card(folder)
    except BundleError as err:
        return BundleCard(name=folder.name, path=folder, shipped=False, problem=str(err))
