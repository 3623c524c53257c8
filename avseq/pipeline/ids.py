"""Output ids: ``OUTDIR/<id>/`` names that are stable, collision-free and never escape OUTDIR.

An id is a ``/``-joined list of safe components: unicode letters and digits,
``-``, ``_`` and ``.`` are kept (NFC-normalized), anything else (``/`` inside a
component, NUL, control characters, spaces) becomes ``_``; ``.``, ``..`` and a
leading dot become ``_``; a component over 80 bytes is cut and suffixed with a
hash of the original. Ids that collide (case-insensitively, or one being the
folder of another, or a reserved top-level name) get a hash suffix.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence

MAX_COMPONENT_BYTES = 80
MAX_COMPONENTS = 8
RESERVED = {"results.jsonl", "summary.json", "report.html", ".staging", "report"}


def short_hash(text: str, n: int = 10) -> str:
    """First ``n`` hex digits of the SHA-1 of ``text`` (stable across runs and machines)."""
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:n]


def _component(part: str) -> str:
    part = unicodedata.normalize("NFC", part)
    safe = "".join(c if (c.isalnum() or c in "-_.") and c.isprintable() else "_" for c in part)
    if set(safe) <= {"."}:
        safe = "_" * max(len(safe), 1)
    if safe.startswith("."):
        safe = "_" + safe[1:]
    if len(safe.encode("utf-8")) > MAX_COMPONENT_BYTES:
        cut = safe.encode("utf-8")[: MAX_COMPONENT_BYTES - 11].decode("utf-8", "ignore")
        safe = f"{cut}-{short_hash(part)}"
    return safe


def safe_id(raw: str) -> str:
    """A safe relative id for ``raw`` (a manifest id or a path relative to its input folder)."""
    parts = [p for p in raw.replace("\\", "/").split("/") if p not in ("", ".")]
    parts = [_component(p) for p in parts] or ["_"]
    if len(parts) > MAX_COMPONENTS:
        tail = "_".join(parts[MAX_COMPONENTS - 1 :])
        parts = [*parts[: MAX_COMPONENTS - 1], _component(tail)]
    return "/".join(parts)


def assign_ids(raw_ids: Sequence[str], sources: Sequence[str]) -> list[str]:
    """Safe, unique ids for inputs in order; a clash gets ``-<hash of its source>``.

    raw_ids[i] is the wanted id of input i, sources[i] its absolute path (hashed
    to disambiguate). The first input keeps a contested id, so ids are stable
    for the same list of inputs.
    """
    wanted = [safe_id(r) for r in raw_ids]
    folders = {"/".join(w.casefold().split("/")[:k]) for w in wanted for k in range(1, w.count("/") + 1)}
    taken: set[str] = set()
    out = []
    for w, src in zip(wanted, sources, strict=True):
        key = w.casefold()
        clash = key in taken or key in folders or key.split("/")[0] in RESERVED
        if clash:
            w = f"{w}-{short_hash(src)}"
            key = w.casefold()
            while key in taken:
                w = f"{w}-{short_hash(w)}"
                key = w.casefold()
        taken.add(key)
        out.append(w)
    return out
