"""Media in and out: probe, decode (video/audio), write audio, mux, caption formats.

Times are seconds everywhere; PyAV errors never leak (see :mod:`avseq.io.opener`).

The exports are imported on first use (PEP 562), so ``avseq probe`` and other
light callers never import torch: ``from avseq.io import decode_video`` loads
:mod:`avseq.io.video` (and torch) only then.
"""

from __future__ import annotations

import importlib

# Imported eagerly because the submodule ``avseq.io.probe`` shares the function's
# name: importing the submodule later would bind ``avseq.io.probe`` to the module.
from avseq.io.probe import MediaInfo, StreamInfo, probe

# public name -> submodule that defines it
_LAZY = {
    "DEFAULT_LIMITS": "limits",
    "Cue": "captions",
    "EventCaptions": "captions",
    "MediaLimits": "limits",
    "atomic_path": "atomic",
    "decode_audio": "audio",
    "decode_video": "video",
    "format_srt": "captions",
    "format_vtt": "captions",
    "iter_video": "windows",
    "mux_audio": "mux",
    "open_media": "opener",
    "write_audio": "audio",
    "write_bytes_atomic": "atomic",
    "write_caption_json": "captions",
    "write_srt": "captions",
    "write_text_atomic": "atomic",
    "write_video": "encode",
    "write_vtt": "captions",
}

__all__ = [
    "DEFAULT_LIMITS",
    "Cue",
    "EventCaptions",
    "MediaInfo",
    "MediaLimits",
    "StreamInfo",
    "atomic_path",
    "decode_audio",
    "decode_video",
    "format_srt",
    "format_vtt",
    "iter_video",
    "mux_audio",
    "open_media",
    "probe",
    "write_audio",
    "write_bytes_atomic",
    "write_caption_json",
    "write_srt",
    "write_text_atomic",
    "write_video",
    "write_vtt",
]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
