"""One run per output folder: an exclusive lock on ``OUTDIR/.avseq-run.lock`` for the whole run.

Two runs writing one folder would sweep each other's staging and record each other's files
as failed. A run takes the lock before it writes anything in OUTDIR; a second run then stops
at once with :class:`OutputFolderBusyError` (exit code 2) and touches nothing.

The lock is ``fcntl.flock`` on that file: the kernel drops it when the last descriptor of
the file closes, so when the process ends, however it ends (a SIGKILL included). A forked
child (a decode worker) closes its copy as it starts (``os.register_at_fork``), so workers
outliving a killed run cannot keep the folder locked. The lock file stays in OUTDIR after
the run: deleting it while another run has it open would let two later runs lock two
different files. It holds the pid and host of the run holding it, for the second run's message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from avseq.errors import ConfigError

LOCK_NAME = ".avseq-run.lock"

_held: set[int] = set()  # descriptors of the lock files this process holds


def _close_in_child() -> None:
    """After a fork: the child lets go of its copies (a flock lasts while any copy is open)."""
    for fd in list(_held):
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


os.register_at_fork(after_in_child=_close_in_child)


class OutputFolderBusyError(ConfigError):
    """Another run is writing to the output folder."""


@contextlib.contextmanager
def output_folder_lock(outdir: str | Path) -> Iterator[Path]:
    """Hold the exclusive lock on ``outdir`` (created if missing) for the body; yields the lock file.

    Raises OutputFolderBusyError naming the folder and the other run's pid when another run
    (in this process or another) holds it, and ConfigError when the folder cannot be
    written. Nothing else in ``outdir`` is touched.
    """
    path = Path(outdir) / LOCK_NAME
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise OutputFolderBusyError(
            f"{path.parent}: another avseq run ({holder}) is writing to this output folder; "
            f"wait for it to end or choose another -o (the lock is {path.name})"
        ) from None
    except OSError as err:  # e.g. ENOLCK: a network filesystem without a lock service
        os.close(fd)
        raise ConfigError(f"{path.parent}: cannot lock the output folder ({err.strerror or err})") from None
    _held.add(fd)
    try:
        _write_holder(fd)
        yield path
    finally:
        _held.discard(fd)
        os.close(fd)  # releases the lock


def _open(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():  # never lock (or write a pid into) whatever a planted link points to
            path.unlink()
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    except OSError as err:
        raise ConfigError(
            f"{path.parent}: cannot write to the output folder ({err.strerror or err})"
        ) from None


def _write_holder(fd: int) -> None:
    text = f"{os.getpid()} {socket.gethostname()}\n".encode()
    with contextlib.suppress(OSError):  # only informative: a full disk must not stop the run
        os.ftruncate(fd, 0)
        os.pwrite(fd, text, 0)


def _holder(fd: int) -> str:
    """``pid 123 on host`` from the lock file, or ``pid unknown`` while the holder has not written it."""
    with contextlib.suppress(OSError, UnicodeDecodeError, ValueError):
        pid, host = os.pread(fd, 300, 0).decode().split()
        return f"pid {int(pid)} on {host}"
    return "pid unknown"
