"""Resource caps checked from the probe before any decoding starts.

A file that exceeds a cap raises :class:`~avseq.errors.ResourceLimitError`
naming the cap, the file's value and how to raise the cap.
"""

from __future__ import annotations

from dataclasses import dataclass

from avseq.errors import ResourceLimitError


@dataclass(frozen=True)
class MediaLimits:
    """Caps on what one call may decode.

    max_duration: seconds of media; max_pixels: width * height of a frame;
    max_frames: frames one ``decode_video`` call may return (use ``iter_video``
    for more); max_channels / max_sample_rate: audio.
    """

    max_duration: float = 4 * 3600.0
    max_pixels: int = 7680 * 4320
    max_frames: int = 20_000
    max_channels: int = 16
    max_sample_rate: int = 384_000


DEFAULT_LIMITS = MediaLimits()


def _number(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else f"{x:g}"


def _exceeds(path, name: str, value: float, cap: float, unit: str = "") -> ResourceLimitError:
    return ResourceLimitError(
        path,
        f"{name.removeprefix('max_')} {_number(value)}{unit} exceeds the cap {name}={_number(cap)}{unit} "
        f"(raise it with 'limits: {{{name}: ...}}' in the pipeline file, --set limits.{name}=..., "
        f"or MediaLimits({name}=...) in Python)",
    )


def check_value(path, limits: MediaLimits, name: str, value: float | None, unit: str = "") -> None:
    """Raise ResourceLimitError when ``value`` exceeds ``getattr(limits, name)``; None passes."""
    cap = getattr(limits, name)
    if value is not None and cap is not None and value > cap:
        raise _exceeds(path, name, value, cap, unit)
