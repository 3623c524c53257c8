"""``bundle.json``: the JSON document beside a bundle's weights, and its validation.

Layout (format_version 2)::

    {"format_version": 1, "kind": "sound", "name": "synth-sound", "version": "sha256:0123abcd4567",
     "system": {"config": {...build_system config...}},
     "tokenizer": {...} | null,
     "preprocessing": {...Preprocessing.to_dict()...},
     "weights": {"file": "weights.safetensors", "sha256": "...", "num_tensors": 42},
     "meta": {"created_at": "...", "avseq_version": "...", ...free metadata...},
     "card": {...ModelCard...} | null,
     "feature_stats": {...FeatureStats...} | null}

``card`` and ``feature_stats`` (:mod:`avseq.bundles.card`) came with format_version 2; a version 1
document has neither and loads as a bundle without a card or a domain check.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from avseq.bundles.card import FeatureStats, ModelCard
from avseq.errors import BundleError
from avseq.io.atomic import write_text_atomic

FORMAT_VERSION = 2
DOCUMENT = "bundle.json"
WEIGHTS = "weights.safetensors"
REQUIRED_KEYS = ("format_version", "kind", "system", "preprocessing", "weights")


def read_document(folder: Path) -> dict[str, Any]:
    """Parse and check ``folder/bundle.json``; any problem raises BundleError naming the path."""
    path = folder / DOCUMENT
    if not path.is_file():
        raise BundleError(f"{folder}: not a bundle (no {DOCUMENT})")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BundleError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(doc, dict):
        raise BundleError(f"{path}: must hold a JSON object, got {type(doc).__name__}")
    check_document(doc, path)
    return doc


def check_document(doc: dict[str, Any], path: Path) -> None:
    """Refuse newer formats, missing keys and malformed sections with a one-line BundleError."""
    version = doc.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BundleError(f"{path}: format_version must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise BundleError(
            f"{path}: bundle format_version {version} is newer than this avseq supports "
            f"({FORMAT_VERSION}); upgrade avseq to load it"
        )
    missing = [k for k in REQUIRED_KEYS if k not in doc]
    if missing:
        raise BundleError(f"{path}: missing keys {missing} (required: {', '.join(REQUIRED_KEYS)})")
    system = doc["system"]
    if not isinstance(system, dict) or not isinstance(system.get("config"), dict):
        raise BundleError(f"{path}: 'system' must be an object with a 'config' object")
    kind, builds = doc["kind"], system["config"].get("kind", doc["kind"])
    if not isinstance(kind, str) or kind != builds:
        raise BundleError(
            f"{path}: bundle of kind {kind!r} but its system.config builds kind {builds!r}; "
            "the two must agree"
        )
    weights = doc["weights"]
    if not isinstance(weights, dict) or not isinstance(weights.get("file"), str):
        raise BundleError(f"{path}: 'weights' must be an object with a 'file' name")
    name = weights["file"]
    if Path(name).name != name or not name.endswith(".safetensors"):
        raise BundleError(f"{path}: weights file {name!r} must be a .safetensors file inside the bundle")
    for key in ("tokenizer", "meta"):
        if doc.get(key) is not None and not isinstance(doc[key], dict):
            raise BundleError(f"{path}: {key!r} must be an object or null, got {type(doc[key]).__name__}")
    read_card(doc, path)
    read_feature_stats(doc, path)


def read_card(doc: dict[str, Any], path: Path) -> ModelCard | None:
    """The document's model card, or None when it has none (format_version 1, or saved without)."""
    return None if doc.get("card") is None else ModelCard.from_dict(doc["card"], f"{path}: card")


def read_feature_stats(doc: dict[str, Any], path: Path) -> FeatureStats | None:
    """The document's feature statistics, or None when it has none (no domain check then)."""
    data = doc.get("feature_stats")
    return None if data is None else FeatureStats.from_dict(data, f"{path}: feature_stats")


def update_document(folder: Path, *, card: ModelCard, feature_stats: FeatureStats) -> None:
    """Rewrite ``folder/bundle.json`` with ``card`` and ``feature_stats``, the rest (and the file's
    mode) as it was; the weights are not touched, so the bundle's version stays."""
    path = folder / DOCUMENT
    doc = read_document(folder)
    doc.update(format_version=FORMAT_VERSION, card=card.to_dict(), feature_stats=feature_stats.to_dict())
    mode = path.stat().st_mode & 0o777
    write_text_atomic(path, dump_document(doc))
    os.chmod(path, mode)  # the atomic write's temp file was private


def dump_document(doc: dict[str, Any]) -> str:
    """Stable, human-readable JSON text; non-JSON values raise BundleError naming the problem."""
    try:
        return json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"
    except (TypeError, ValueError) as err:
        raise BundleError(f"bundle document is not JSON-able: {err}") from None
