"""Atomic output: write to a temporary name in the destination folder, then rename.

An interrupted run therefore never leaves a half-written file under its final name.
"""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _temp_prefix(final: Path) -> str:
    return f".{final.stem[:40]}."


@contextlib.contextmanager
def atomic_path(final: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it onto ``final`` on success.

    The temporary name keeps the final suffix (so muxers that guess the format
    from the extension still work). On any exception the temporary file is removed.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(final), suffix=suffix or final.suffix, dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_bytes_atomic(final: str | Path, data: bytes) -> None:
    """Write ``data`` to ``final`` atomically."""
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(final: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``final`` atomically."""
    write_bytes_atomic(final, text.encode("utf-8"))


def remove_stale_temps(final: str | Path) -> None:
    """Remove temporary files that a killed :func:`atomic_path` left beside ``final``.

    Only call this when no other process may be writing ``final`` at the same time.
    """
    final = Path(final)
    if not final.parent.is_dir():
        return
    for tmp in final.parent.glob(f"{glob.escape(_temp_prefix(final))}*{glob.escape(final.suffix)}"):
        if tmp.is_file() or tmp.is_symlink():
            tmp.unlink(missing_ok=True)
