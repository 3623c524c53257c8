"""Deterministic splits from a hash: the same key lands in the same split on every machine and run.

A key's position is the first 8 bytes of its SHA-1 as a number in [0, 1); adding or removing
other clips never moves it. :func:`hash_split` cuts [0, 1) by the train/val/test fractions;
:func:`carve_val` takes the validation clips out of a published training split (VGGSound, VAS
and Greatest Hits publish train and test only).
"""

from __future__ import annotations

import hashlib
import math

from avseq.errors import ConfigError

SPLITS = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)
DEFAULT_VAL_FRACTION = 0.05


def parse_fractions(text: str) -> tuple[float, float, float]:
    """``"0.8,0.1,0.1"`` -> train, val, test fractions (each >= 0, summing to 1)."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    ok = len(values) == 3 and all(v >= 0 and math.isfinite(v) for v in values)
    if not ok or abs(sum(values) - 1.0) > 1e-6:
        raise ConfigError(
            f"Invalid split {text!r}: give three fractions train,val,test that are >= 0 and sum to 1, "
            "e.g. 0.8,0.1,0.1"
        )
    return values  # type: ignore[return-value]


def check_fraction(value: float, what: str = "val fraction") -> float:
    """``value`` when it is in [0, 1); a ConfigError names it otherwise."""
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"Invalid {what} {value!r}: must be >= 0 and < 1")
    return value


def position(key: str) -> float:
    """Where ``key`` falls in [0, 1): its SHA-1, as a fraction."""
    digest = hashlib.sha1(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def hash_split(key: str, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS) -> str:
    """``train``, ``val`` or ``test`` for ``key`` by the cumulative ``fractions``."""
    train, val, _ = fractions
    x = position(key)
    return "train" if x < train else "val" if x < train + val else "test"


def carve_val(key: str, fraction: float = DEFAULT_VAL_FRACTION) -> str:
    """``val`` for about ``fraction`` of the keys of a training split, ``train`` for the rest.

    The key is salted so that the clips a source also splits by :func:`hash_split` are not
    chosen by the same cut."""
    return "val" if position("val:" + key) < fraction else "train"
