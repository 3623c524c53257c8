"""What a bundle says about itself, in ``bundle.json``: its model card and its feature statistics.

Both are read without torch (``avseq bundles`` lists cards from bundle.json alone):

- ``card`` (:class:`ModelCard`): what the model does, what it was trained on, its evaluation
  figures, the inputs it is meant for and its known limits.
- ``feature_stats`` (:class:`FeatureStats`): summary statistics of its frame encoder's features
  on its training clips, and the threshold of the domain check that ``avseq run`` applies to
  every input (:mod:`avseq.bundles.domain` computes both; :mod:`avseq.pipeline.domain` applies them).

Arrays too long to read as numbers (the minor components) are stored as base64 of little-endian
float32 with their shape: ``{"dtype": "float32", "shape": [K, D], "base64": "..."}``.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from avseq.errors import BundleError

SCORE_METHODS = get_args(Literal["minor_components"])
QUANTILES = ("min", "p50", "p90", "p99", "max")


@dataclass(frozen=True)
class ModelCard:
    """A bundle's model card; every text is one paragraph, ``limits`` one item per known limit.

    figures: key evaluation figures by label (e.g. ``"onset F1, 200 test clips": 1.0``);
    evaluation: where the figures come from (split, clips, command).
    """

    summary: str
    trained_on: str
    intended_inputs: str = ""
    limits: tuple[str, ...] = ()
    figures: dict[str, float] = field(default_factory=dict)
    evaluation: str = ""

    @classmethod
    def from_dict(cls, data: Any, where: str = "card") -> ModelCard:
        """Validate a ``card`` object; a problem raises BundleError naming ``where``, the key, the value."""
        _check_keys(data, where, required=("summary", "trained_on"), allowed=_fields(cls))
        texts = {k: _text(data, k, where) for k in ("summary", "trained_on", "intended_inputs", "evaluation")}
        limits = data.get("limits", [])
        if not isinstance(limits, list) or not all(isinstance(x, str) for x in limits):
            raise BundleError(f"{where}.limits must be a list of strings, got {limits!r}")
        figures = data.get("figures", {})
        if not isinstance(figures, dict) or not all(_is_number(v) for v in figures.values()):
            raise BundleError(f"{where}.figures must map labels to numbers, got {figures!r}")
        return cls(**texts, limits=tuple(limits), figures={str(k): float(v) for k, v in figures.items()})

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "trained_on": self.trained_on,
            "intended_inputs": self.intended_inputs,
            "limits": list(self.limits),
            "figures": dict(self.figures),
            "evaluation": self.evaluation,
        }


@dataclass(frozen=True, repr=False)
class FeatureStats:
    """Statistics of a frame encoder's features (D per frame) over a bundle's training clips.

    mean, std: (D,) per dimension over every training frame. components (K, D), variances (K,):
    the K directions in which the training frames vary least (the minor eigenvectors of their
    covariance, rows of unit length) and the variance along each (plus a small ridge).
    A frame's score is ``mean_k ((f - mean) . components[k])^2 / variances[k]`` and a clip's the
    mean over its frames (``method: minor_components``): about 1 for training frames, large
    for frames that move where the training frames never did. train_scores: quantiles (min,
    p50, p90, p99, max) of the clip score over the training clips; threshold: clips scoring
    above it are out of the domain; calibration: how the threshold was set and checked.
    """

    source: str
    clips: int
    frames: int
    mean: np.ndarray
    std: np.ndarray
    components: np.ndarray
    variances: np.ndarray
    train_scores: dict[str, float]
    threshold: float
    method: str = "minor_components"
    calibration: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.check()

    def check(self, where: str = "feature_stats") -> None:
        """Raise BundleError naming ``where`` and the field when the arrays do not fit together
        (D and K from ``components``), the method is unknown or a number is out of range."""
        if self.components.ndim != 2:
            raise BundleError(
                f"{where}.components must be a (K, D) matrix, got shape {self.components.shape}"
            )
        k, d = self.components.shape
        for name, shape in {"mean": (d,), "std": (d,), "variances": (k,)}.items():
            if getattr(self, name).shape != shape:
                raise BundleError(f"{where}.{name} has shape {getattr(self, name).shape}, expected {shape}")
        if self.method not in SCORE_METHODS:
            raise BundleError(
                f"{where}.method: invalid {self.method!r}. Supported: {', '.join(SCORE_METHODS)}"
            )
        if not (math.isfinite(self.threshold) and self.threshold > 0):
            raise BundleError(f"{where}.threshold must be a positive number, got {self.threshold!r}")
        if not np.all(self.variances > 0):
            raise BundleError(f"{where}.variances must all be positive")

    @property
    def dim(self) -> int:
        """D, the feature size the statistics describe."""
        return int(self.mean.shape[0])

    def __repr__(self) -> str:
        return (
            f"FeatureStats(dim={self.dim}, components={self.variances.shape[0]}, clips={self.clips}, "
            f"threshold={self.threshold:.4g})"
        )

    @classmethod
    def from_dict(cls, data: Any, where: str = "feature_stats") -> FeatureStats:
        """Validate a ``feature_stats`` object; a problem raises BundleError naming ``where`` and the key."""
        required = ("source", "clips", "frames", "mean", "std", "components", "variances", "train_scores",
                    "threshold")  # fmt: skip
        _check_keys(data, where, required=required, allowed=_fields(cls))
        scores = data["train_scores"]
        if not isinstance(scores, dict) or not all(_is_number(scores.get(q)) for q in QUANTILES):
            raise BundleError(f"{where}.train_scores must give numbers for {', '.join(QUANTILES)}")
        if not (_is_number(data["threshold"]) and data["threshold"] > 0):
            raise BundleError(f"{where}.threshold must be a positive number, got {data['threshold']!r}")
        if not isinstance(data.get("method", "minor_components"), str):
            raise BundleError(f"{where}.method must be a string, got {data['method']!r}")
        calibration = data.get("calibration", {})
        if not isinstance(calibration, dict):
            raise BundleError(f"{where}.calibration must be an object, got {type(calibration).__name__}")
        fields = dict(
            source=_text(data, "source", where),
            clips=_count(data, "clips", where),
            frames=_count(data, "frames", where),
            mean=_vector(data["mean"], f"{where}.mean"),
            std=_vector(data["std"], f"{where}.std"),
            components=decode_array(data["components"], f"{where}.components"),
            variances=_vector(data["variances"], f"{where}.variances"),
            train_scores={q: float(scores[q]) for q in QUANTILES},
            threshold=float(data["threshold"]),
            method=data.get("method", "minor_components"),
            calibration=calibration,
        )
        stats = object.__new__(cls)  # checked with ``where`` in its messages, then built (checked again)
        stats.__dict__.update(fields)
        stats.check(where)
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "source": self.source,
            "clips": self.clips,
            "frames": self.frames,
            "threshold": _round(self.threshold),
            "train_scores": {q: _round(v) for q, v in self.train_scores.items()},
            "calibration": self.calibration,
            "mean": [_round(v) for v in self.mean.tolist()],
            "std": [_round(v) for v in self.std.tolist()],
            "variances": [_round(v) for v in self.variances.tolist()],
            "components": encode_array(self.components),
        }


def encode_array(array: np.ndarray) -> dict[str, Any]:
    """``array`` as ``{"dtype": "float32", "shape": [...], "base64": ...}`` (little-endian)."""
    data = np.ascontiguousarray(array, dtype="<f4")
    return {
        "dtype": "float32",
        "shape": list(data.shape),
        "base64": base64.b64encode(data.tobytes()).decode(),
    }


def decode_array(data: Any, where: str) -> np.ndarray:
    """The float32 array :func:`encode_array` wrote; BundleError naming ``where`` when malformed."""
    if (
        not isinstance(data, dict)
        or data.get("dtype") != "float32"
        or not isinstance(data.get("base64"), str)
    ):
        raise BundleError(f"{where} must be {{'dtype': 'float32', 'shape': [...], 'base64': '...'}}")
    shape = data.get("shape")
    if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise BundleError(f"{where}.shape must be a list of sizes, got {shape!r}")
    try:
        raw = base64.b64decode(data["base64"], validate=True)
    except ValueError as err:
        raise BundleError(f"{where}.base64 is not base64 ({err})") from None
    if len(raw) != 4 * math.prod(shape):
        raise BundleError(f"{where} holds {len(raw)} bytes, but shape {shape} needs {4 * math.prod(shape)}")
    array = np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise BundleError(f"{where} holds values that are not finite")
    return array


def _fields(cls: type) -> tuple[str, ...]:
    return tuple(cls.__dataclass_fields__)


def _check_keys(data: Any, where: str, required: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    if not isinstance(data, dict):
        raise BundleError(f"{where} must be an object, got {type(data).__name__}")
    missing = [k for k in required if k not in data]
    if missing:
        raise BundleError(f"{where} lacks {missing} (required: {', '.join(required)})")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise BundleError(f"{where} has unknown keys {unknown}. Supported: {', '.join(allowed)}")


def _text(data: dict, key: str, where: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise BundleError(f"{where}.{key} must be a string, got {value!r}")
    return value


def _count(data: dict, key: str, where: str) -> int:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BundleError(f"{where}.{key} must be a count (an integer >= 0), got {value!r}")
    return value


def _vector(value: Any, where: str) -> np.ndarray:
    if not isinstance(value, list) or not all(_is_number(v) for v in value):
        raise BundleError(f"{where} must be a list of numbers")
    return np.asarray(value, dtype=np.float32)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _round(value: float) -> float:
    """Eight significant digits: a float32 read back from the text is the same float32."""
    return float(f"{value:.8g}")
