"""Checkpoint folders of a run, written so that a kill at any moment leaves a loadable one.

Layout of a run folder::

    checkpoints/step-00000400/bundle/        the model as a bundle (avseq.bundles)
    checkpoints/step-00000400/state.*        optimizer, scheduler, RNG, step (avseq.train.state)
    last -> checkpoints/step-00000400        symlinks, each replaced atomically
    best -> checkpoints/step-00000200

A checkpoint is written into a hidden temporary folder and renamed into place
only when complete; then the ``last`` (and maybe ``best``) link is swapped with
an atomic rename. Folders no link points to are removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from avseq.train.state import DOCUMENT, TENSORS, CheckpointError

CHECKPOINTS = "checkpoints"
LINKS = ("last", "best")
BUNDLE = "bundle"


def step_dir_name(step: int) -> str:
    return f"step-{step:08d}"


def write_checkpoint(run_dir: str | Path, step: int, write: Callable[[Path], None]) -> Path:
    """Create ``checkpoints/step-N`` by calling ``write(tmp_folder)``, then rename it into place.

    If ``write`` raises (or the process dies), no ``step-N`` folder appears and the
    links keep pointing at the previous complete checkpoint.
    """
    root = Path(run_dir) / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / step_dir_name(step)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
    try:
        write(tmp)
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def point(run_dir: str | Path, name: str, target: Path) -> None:
    """Atomically make ``run_dir/name`` a relative symlink to ``target``."""
    if name not in LINKS:
        raise ValueError(f"Invalid checkpoint link {name!r}. Supported: {', '.join(LINKS)}")
    run_dir = Path(run_dir)
    rel = os.path.relpath(target, run_dir)
    tmp = run_dir / f".{name}.link-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(rel, tmp)
    os.replace(tmp, run_dir / name)


def resolve(run_dir: str | Path, name: str = "last") -> Path | None:
    """The complete checkpoint folder ``run_dir/name`` points to, or None when there is none."""
    link = Path(run_dir) / name
    if not link.is_symlink() and not link.is_dir():
        return None
    target = link.resolve()
    if not all((target / f).is_file() for f in (TENSORS, DOCUMENT)):
        raise CheckpointError(f"{link}: points to an incomplete checkpoint {target}")
    return target


def prune(run_dir: str | Path) -> None:
    """Remove checkpoint folders that no link points to, and stale temporary folders."""
    run_dir = Path(run_dir)
    keep = {(run_dir / n).resolve() for n in LINKS if (run_dir / n).is_symlink()}
    for child in (run_dir / CHECKPOINTS).iterdir():
        if child.is_dir() and child.resolve() not in keep:
            shutil.rmtree(child, ignore_errors=True)
