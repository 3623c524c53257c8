"""The one exception family of avseq.

Every error a user can cause (a bad file, a bad config, a bad bundle) is an
:class:`AvseqError` whose message is one line naming the thing and the cause.
The CLI prints that line; tracebacks appear only with ``--debug``.
"""

from __future__ import annotations

import reprlib
from pathlib import Path


class AvseqError(Exception):
    """Base class of every error avseq raises on purpose."""


class ConfigError(AvseqError):
    """A pipeline, model or training config is invalid (names file, key path, value)."""


class UnknownNameError(ConfigError, ValueError):
    """A name no registry holds: ``unknown stage type 'x'; known: a, b``.

    Also a ValueError, the error an unknown name raises in a registry
    (so a pydantic validator that looks a name up reports it at its key path).
    """


class BundleError(AvseqError):
    """A model bundle is missing, malformed, from a newer format, or unsafe to load."""


class CheckpointError(BundleError):
    """A training checkpoint is missing, incomplete or does not fit the model."""


class MediaError(AvseqError):
    """A media file could not be read or written. ``path`` names the file."""

    def __init__(self, path: str | Path | None, cause: str) -> None:
        self.path = None if path is None else str(path)
        self.cause = cause
        super().__init__(f"{self.path}: {cause}" if self.path else cause)


class NotMediaError(MediaError):
    """The file is empty or is not a media container (e.g. an HTML page)."""


class NoStreamError(MediaError):
    """The file has no stream of the requested kind (video or audio)."""


class CorruptMediaError(MediaError):
    """The data is damaged and could not be decoded."""


class TruncatedMediaError(MediaError):
    """The file decodes to noticeably less than its header declares."""


class UnsupportedCodecError(MediaError):
    """No decoder or encoder for this codec is available."""


class ResourceLimitError(MediaError):
    """The file exceeds a configured cap (duration, pixels, frames, channels...)."""


class ReportError(AvseqError):
    """An output folder or training run cannot be reported on (missing or malformed records)."""


class MetricsUnavailableError(AvseqError):
    """A metric needs a tool (pycocoevalcap, Java) that is not installed."""


def short_repr(value: object, limit: int = 120) -> str:
    """``repr(value)`` for an error message, bounded in depth and length.

    A config value can be huge (a YAML alias bomb expands to billions of items):
    only a few items per level and at most ``limit`` characters are shown.
    """
    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict, r.maxset = 3, 6, 6, 6, 6
    r.maxstring = r.maxother = limit
    text = r.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
