"""Opening media and turning PyAV / OS errors into avseq errors.

Every read in :mod:`avseq.io` goes through :func:`open_media` (or
:func:`media_errors` around decoding), so PyAV exceptions never reach callers:
a missing, empty or non-media file is :class:`NotMediaError`, damaged data is
:class:`CorruptMediaError`, an unknown codec is :class:`UnsupportedCodecError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import av

from avseq.errors import (
    CorruptMediaError,
    MediaError,
    NotMediaError,
    UnsupportedCodecError,
)


def _one_line(err: BaseException) -> str:
    text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return " ".join(str(text).split())


def map_error(path: str | Path, err: BaseException, *, opening: bool = False) -> MediaError:
    """The avseq error for a PyAV or OS error ``err`` raised while reading ``path``."""
    if isinstance(err, MediaError):
        return err
    cause = _one_line(err)
    if isinstance(err, (av.error.DecoderNotFoundError, av.error.EncoderNotFoundError)):
        return UnsupportedCodecError(path, f"no codec available ({cause})")
    if isinstance(err, av.error.PatchWelcomeError):
        return UnsupportedCodecError(path, f"unsupported feature ({cause})")
    if isinstance(err, (FileNotFoundError, IsADirectoryError, PermissionError)) or opening:
        return NotMediaError(path, f"not a readable media file ({cause})")
    return CorruptMediaError(path, f"decoding failed ({cause})")


@contextlib.contextmanager
def media_errors(path: str | Path) -> Iterator[None]:
    """Re-raise PyAV and OS errors raised inside the block as avseq media errors."""
    try:
        yield
    except MediaError:
        raise
    except (av.error.FFmpegError, OSError, ValueError, IndexError) as err:
        raise map_error(path, err) from err


def _check_file(path: Path) -> None:
    if not path.exists():
        raise NotMediaError(path, "file not found")
    if path.is_dir():
        raise NotMediaError(path, "is a directory, not a media file")
    if not path.is_file():  # a FIFO would block the open; a device may never end
        raise NotMediaError(path, "not a regular file (a FIFO, socket or device), not a media file")
    if path.stat().st_size == 0:
        raise NotMediaError(path, "file is empty (0 bytes)")


@contextlib.contextmanager
def open_media(path: str | Path, **options) -> Iterator[av.container.InputContainer]:
    """Open ``path`` for reading; PyAV/OS errors become avseq errors; always closes."""
    path = Path(path)
    _check_file(path)
    try:
        container = av.open(str(path), mode="r", **options)
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise map_error(path, err, opening=True) from err
    try:
        with media_errors(path):
            yield container
    finally:
        container.close()
