"""Saving and loading bundles: a folder of ``weights.safetensors`` + ``bundle.json``.

``save_bundle`` writes into a temporary folder beside the target and renames it into
place, so a crash never leaves half a bundle. ``load`` reads JSON and safetensors only:
nothing is ever unpickled. Names resolve to bundles shipped in ``avseq/bundles/data/``.

Before building a system, ``load`` builds it once on the ``meta`` device (shapes, no memory) and
compares the tensors its config implies with the weights file's header
(:func:`~avseq.bundles.weights.check_fits`): a bundle.json that promises more than its weights
hold, or weights over ``max_bytes``, is refused before anything is allocated.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_model
from torch import nn

import avseq
from avseq.bundles.card import FeatureStats, ModelCard
from avseq.bundles.document import (
    DOCUMENT,
    FORMAT_VERSION,
    WEIGHTS,
    dump_document,
    read_card,
    read_document,
    read_feature_stats,
)
from avseq.bundles.locate import list_bundled, read_preprocessing, resolve  # noqa: F401  (re-exported)
from avseq.bundles.preprocessing import Preprocessing
from avseq.bundles.weights import MAX_WEIGHT_BYTES, check_fits, load_into, read_header, sha256_file
from avseq.errors import AvseqError, BundleError

SystemBuilder = Callable[[dict[str, Any]], nn.Module]


@dataclass(frozen=True, repr=False)
class Bundle:
    """A loaded bundle: the system in eval mode plus everything needed to feed it.

    card: its model card; feature_stats: its encoder's feature statistics on its training clips
    (the domain check of ``avseq run``); both None for a bundle saved without them.
    """

    name: str
    version: str
    kind: str
    path: Path
    system: nn.Module
    preprocessing: Preprocessing
    tokenizer: Any | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    card: ModelCard | None = None
    feature_stats: FeatureStats | None = None

    def __repr__(self) -> str:
        where = str(self.path)
        return f"Bundle(name={self.name!r}, version={self.version!r}, kind={self.kind!r}, path={where!r})"


def _default_builder(config: dict[str, Any]) -> nn.Module:
    from avseq.models import build_system

    return build_system(config, load_weights=False)


def _build(doc: dict[str, Any], builder: SystemBuilder | None, folder: Path) -> nn.Module:
    try:
        return (builder or _default_builder)(doc["system"]["config"])
    except AvseqError as err:
        raise BundleError(f"{folder}: cannot build the system from its config: {err}") from None


def _check_checksum(file: Path, expected_sha: str | None) -> None:
    """Refuse a missing weights file, or one whose SHA-256 differs from bundle.json's (read in chunks)."""
    if not file.is_file():
        raise BundleError(f"{file}: weights file is missing")
    if expected_sha is not None and sha256_file(file) != expected_sha:
        raise BundleError(f"{file}: checksum differs from bundle.json (file corrupt or replaced)")


def _read_weights(file: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError) as err:
        raise BundleError(f"{file}: not a readable safetensors file ({err})") from None


class _ShapesOnly(torch.overrides.TorchFunctionMode):
    """Skips the random initialization of parameters (``nn.init``'s and the tensors' own): on the
    meta device only shapes exist, and meta's ``normal_`` loads torch's Python decompositions on
    first use, 0.7 s of a run's start-up."""

    INITS = ("normal_", "uniform_", "trunc_normal_", "xavier_uniform_", "xavier_normal_",
             "kaiming_uniform_", "kaiming_normal_", "orthogonal_")  # fmt: skip
    SKIPPED = frozenset({torch.Tensor.normal_, torch.Tensor.uniform_, *(getattr(nn.init, f) for f in INITS)})

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self.SKIPPED:
            return args[0] if args else kwargs["tensor"]
        return func(*args, **kwargs)


def _meta_system(doc: dict[str, Any], builder: SystemBuilder | None, folder: Path) -> nn.Module:
    """The system built on the ``meta`` device: every tensor's shape, no memory."""
    try:
        with torch.device("meta"), _ShapesOnly():
            return _build(doc, builder, folder)
    except (RuntimeError, NotImplementedError, TypeError, ValueError) as err:
        raise BundleError(
            f"{folder}: cannot size the system from its config on the meta device: {err}"
        ) from None


def _tokenizer(data: dict[str, Any] | None, folder: Path) -> Any | None:
    if data is None:
        return None
    from avseq.models import Tokenizer

    try:
        return Tokenizer.from_dict(data)
    except AvseqError as err:
        raise BundleError(f"{folder}: bad tokenizer: {err}") from None


def load(
    name_or_path: str | os.PathLike,
    device: torch.device | str = "cpu",
    *,
    builder: SystemBuilder | None = None,
    max_bytes: int = MAX_WEIGHT_BYTES,
) -> Bundle:
    """Load a bundle by path or bundled name; the system comes back in eval mode on ``device``.

    ``builder(config) -> nn.Module`` rebuilds the system (default ``avseq.models.build_system``);
    it must be able to build on the ``meta`` device, where the config's sizes are checked against
    the weights file's header before anything is allocated. A newer format, missing keys, a bad
    checksum, weights over ``max_bytes`` or weights that do not fit the config raise BundleError
    naming the path, the problem and the tensors.
    """
    folder = resolve(name_or_path)
    doc = read_document(folder)
    try:
        preprocessing = Preprocessing.from_dict(doc["preprocessing"])
    except AvseqError as err:
        raise BundleError(f"{folder / DOCUMENT}: bad preprocessing: {err}") from None
    file = folder / doc["weights"]["file"]
    _check_checksum(file, doc["weights"].get("sha256"))
    check_fits(read_header(file), _meta_system(doc, builder, folder), file, max_bytes)
    system = _build(doc, builder, folder)
    load_into(system, _read_weights(file), file)
    stats = read_feature_stats(doc, folder / DOCUMENT)
    _check_stats_fit(stats, system, folder)
    system.to(device).eval()
    return Bundle(
        name=str(doc.get("name") or folder.name),
        version=str(doc.get("version", "")),
        kind=str(doc["kind"]),
        path=folder,
        system=system,
        preprocessing=preprocessing,
        tokenizer=_tokenizer(doc.get("tokenizer"), folder),
        meta=dict(doc.get("meta") or {}),
        card=read_card(doc, folder / DOCUMENT),
        feature_stats=stats,
    )


def _check_stats_fit(stats: FeatureStats | None, system: nn.Module, folder: Path) -> None:
    """Refuse feature statistics of another feature size than the system's encoder makes."""
    dim = getattr(getattr(system, "encoder", None), "out_dim", None)
    if stats is not None and isinstance(dim, int) and stats.dim != dim:
        raise BundleError(
            f"{folder / DOCUMENT}: feature_stats describe {stats.dim}-dimensional features, but the "
            f"system's encoder makes {dim}"
        )


def _system_config(system: nn.Module) -> tuple[dict[str, Any], str]:
    config = getattr(system, "config", None)
    if not isinstance(config, dict):
        raise BundleError(f"cannot bundle {type(system).__name__}: it has no .config dict to rebuild it from")
    kind = config.get("kind") or getattr(system, "kind", None)
    if not isinstance(kind, str):
        raise BundleError(f"cannot bundle {type(system).__name__}: no 'kind' in its config or class")
    return config, kind


def _document(system, preprocessing, tokenizer, meta, name, version, sha, n_tensors, card, stats) -> dict:
    config, kind = _system_config(system)
    if isinstance(preprocessing, dict):
        preprocessing = Preprocessing.from_dict(preprocessing)
    tok = tokenizer.to_dict() if hasattr(tokenizer, "to_dict") else tokenizer
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "name": name,
        "version": version or f"sha256:{sha[:12]}",
        "system": {"config": config},
        "tokenizer": tok,
        "preprocessing": preprocessing.to_dict(),
        "weights": {"file": WEIGHTS, "sha256": sha, "num_tensors": n_tensors},
        "meta": {"created_at": stamp, "avseq_version": avseq.__version__, **(meta or {})},
        "card": None if card is None else card.to_dict(),
        "feature_stats": None if stats is None else stats.to_dict(),
    }


def _record(value: Any, record: type) -> Any:
    """A card or statistics record, given as one or as its dict (checked by parsing it)."""
    return value if value is None or isinstance(value, record) else record.from_dict(value)


def save_bundle(
    path: str | os.PathLike,
    system: nn.Module,
    preprocessing: Preprocessing | dict[str, Any],
    *,
    tokenizer: Any | None = None,
    meta: dict[str, Any] | None = None,
    card: ModelCard | dict[str, Any] | None = None,
    feature_stats: FeatureStats | dict[str, Any] | None = None,
    name: str | None = None,
    version: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``system`` (which must keep its ``.config``) as a bundle folder at ``path``.

    ``tokenizer`` is an object with ``to_dict()`` or a dict; ``meta`` is free JSON-able
    metadata (training config, seed, split, eval figures...). ``card``: its
    :class:`~avseq.bundles.card.ModelCard`; ``feature_stats``: its encoder's
    :class:`~avseq.bundles.card.FeatureStats` on the training clips
    (:func:`avseq.bundles.domain.fit_feature_stats`), which ``avseq run`` checks each input
    against. ``version`` defaults to
    ``sha256:<first 12 hex of the weights>``. An existing folder is replaced only with
    ``overwrite=True``. Returns the bundle folder.
    """
    final = Path(path)
    if final.exists() and not overwrite:
        raise BundleError(f"{final}: already exists (pass overwrite=True to replace it)")
    card, feature_stats = _record(card, ModelCard), _record(feature_stats, FeatureStats)
    _check_stats_fit(feature_stats, system, final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        save_model(system, str(tmp / WEIGHTS))
        with safe_open(str(tmp / WEIGHTS), framework="pt") as f:
            n_tensors = len(list(f.keys()))
        doc = _document(
            system,
            preprocessing,
            tokenizer,
            meta,
            name or final.name,
            version,
            sha256_file(tmp / WEIGHTS),
            n_tensors,
            card,
            feature_stats,
        )
        (tmp / DOCUMENT).write_text(dump_document(doc), encoding="utf-8")
        _swap_into_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _swap_into_place(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` onto ``final``; an existing ``final`` is moved aside first, then removed."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
