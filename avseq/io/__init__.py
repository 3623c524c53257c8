"""Media in and out: probe, decode (video/audio), write audio, mux, caption formats.

Times are seconds everywhere; PyAV errors never leak (see :mod:`avseq.io.opener`).
"""

from avseq.io.atomic import atomic_path, write_bytes_atomic, write_text_atomic
from avseq.io.audio import decode_audio, write_audio
from avseq.io.captions import Cue, format_srt, format_vtt, write_caption_json, write_srt, write_vtt
from avseq.io.encode import write_video
from avseq.io.limits import DEFAULT_LIMITS, MediaLimits
from avseq.io.mux import mux_audio
from avseq.io.opener import open_media
from avseq.io.probe import MediaInfo, StreamInfo, probe
from avseq.io.video import decode_video, iter_video

__all__ = [
    "DEFAULT_LIMITS",
    "Cue",
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
