"""Noticing files that decode to less than their header declares."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

from avseq.errors import TruncatedMediaError

OnTruncated = Literal["error", "warn"]
ON_TRUNCATED = ("error", "warn")

MIN_FRACTION = 0.9  # decoded / declared below this ...
MIN_SHORTFALL = 0.5  # ... and more than this many seconds missing counts as truncated


def validate_on_truncated(on_truncated: str) -> OnTruncated:
    """Check the ``on_truncated`` argument against the choices."""
    if on_truncated not in ON_TRUNCATED:
        raise ValueError(f"Invalid on_truncated {on_truncated!r}. Supported: 'error', 'warn'")
    return on_truncated  # type: ignore[return-value]


def is_truncated(decoded_end: float, declared_end: float, start: float = 0.0) -> bool:
    """True when ``[start, decoded_end)`` falls noticeably short of ``[start, declared_end)``."""
    wanted, got = declared_end - start, max(decoded_end - start, 0.0)
    return wanted > 0 and got < MIN_FRACTION * wanted and wanted - got > MIN_SHORTFALL


def check_truncation(
    path: str | Path,
    kind: str,
    decoded_end: float | None,
    declared_end: float | None,
    *,
    start: float = 0.0,
    on_truncated: OnTruncated = "error",
) -> None:
    """Raise TruncatedMediaError (or warn) when the ``kind`` stream ends early; seconds."""
    if decoded_end is None or declared_end is None or not is_truncated(decoded_end, declared_end, start):
        return
    message = (
        f"truncated: {kind} data ends at {decoded_end:.2f} s but the header declares {declared_end:.2f} s"
    )
    if on_truncated == "error":
        raise TruncatedMediaError(path, message)
    warnings.warn(f"{path}: {message}", stacklevel=3)
