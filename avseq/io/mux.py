"""Put new audio (and optionally a caption track) next to a video's untouched packets.

Every video packet is copied, never re-encoded. The new audio is encoded to
AAC for MP4/MOV and Opus for MKV/WebM, placed on the video's timeline and cut
or padded with silence to exactly the video's duration. Captions become a
``mov_text`` track in MP4/MOV and a WebVTT track in MKV/WebM.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np

from avseq.errors import MediaError, NoStreamError, UnsupportedCodecError
from avseq.io.atomic import atomic_path
from avseq.io.audio import decode_audio
from avseq.io.captions import Cue
from avseq.io.opener import open_media
from avseq.io.resample import frames_from_wave, resample_frames, resample_wave
from avseq.io.scan import scan_stream
from avseq.types import Audio

MuxMode = Literal["replace", "keep"]
MUX_MODES = ("replace", "keep")
# extension -> (muxer, audio codec, encoder sample format, caption codec)
OUTPUT_FORMATS = {
    ".mp4": ("mp4", "aac", "fltp", "mov_text"),
    ".m4v": ("mp4", "aac", "fltp", "mov_text"),
    ".mov": ("mov", "aac", "fltp", "mov_text"),
    ".mkv": ("matroska", "libopus", "flt", "webvtt"),
    ".webm": ("webm", "libopus", "flt", "webvtt"),
}
AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
OPUS_RATES = (48000, 24000, 16000, 12000, 8000)
CAPTION_TIME_BASE = Fraction(1, 1000)


def _encoder_rate(codec: str, rate: int) -> int:
    rates = AAC_RATES if codec == "aac" else OPUS_RATES
    return rate if rate in rates else 48000


def fit_to_span(
    audio: Audio, rate: int, start: float, duration: float, channels: int | None = None
) -> np.ndarray:
    """float32 (C, N) samples of ``audio`` covering exactly ``[start, start + duration)`` at ``rate`` Hz.

    Audio before ``start`` or after the end is cut; gaps are filled with silence.
    channels: convert to this many channels (None keeps the audio's).
    """
    wave = audio.wave.detach().cpu().numpy().astype(np.float32)
    wave = resample_wave(wave, audio.sample_rate, rate, channels)
    n = round(duration * rate)
    offset = round((audio.start - start) * rate)  # where audio's first sample lands in the output
    out = np.zeros((wave.shape[0], n), dtype=np.float32)
    src0, dst0 = max(0, -offset), max(0, offset)
    count = max(0, min(wave.shape[1] - src0, n - dst0))
    out[:, dst0 : dst0 + count] = wave[:, src0 : src0 + count]
    return out


def _caption_payload(codec: str, text: str) -> bytes:
    data = text.encode("utf-8")
    if codec == "mov_text":
        return len(data).to_bytes(2, "big") + data
    return data


def _caption_packets(stream, codec: str, cues: Sequence[Cue]) -> Iterator[av.Packet]:
    for cue in sorted(cues, key=lambda c: c.start):
        packet = av.Packet(_caption_payload(codec, cue.text))
        packet.pts = packet.dts = round(cue.start / CAPTION_TIME_BASE)
        packet.duration = round((cue.end - cue.start) / CAPTION_TIME_BASE)
        packet.time_base = CAPTION_TIME_BASE
        packet.stream = stream
        yield packet


def _audio_packets(stream, wave: np.ndarray, rate: int, first_pts: int, fmt: str) -> Iterator[av.Packet]:
    chunk = stream.codec_context.frame_size or 1024
    frames = frames_from_wave(wave, rate, chunk=chunk, first_pts=first_pts)
    for frame in resample_frames(frames, rate=None, channels=None, fmt=fmt):
        yield from stream.encode(frame)
    yield from stream.encode(None)


def _copied_packets(container, mapping: dict) -> Iterator[av.Packet]:
    for packet in container.demux(*mapping):
        if packet.dts is None or packet.size == 0:
            continue
        packet.stream = mapping[packet.stream]
        yield packet


def _seconds(packet: av.Packet) -> float:
    ts = packet.dts if packet.dts is not None else packet.pts
    return float(ts * packet.time_base) if ts is not None else 0.0


def _video_span(container, vs) -> tuple[float, float]:
    """(start, duration) in seconds of video stream ``vs``, measured from its packets."""
    table = scan_stream(container, vs)
    container.seek(0)
    if not table.has_pts:
        start = float((vs.start_time or 0) * vs.time_base)
        return start, float((vs.duration or 0) * vs.time_base)
    start = float(int(table.pts.min()) * table.time_base)
    return start, table.end_seconds() - start


WEBM_VIDEO = ("vp8", "vp9", "av1", "libdav1d", "libvpx", "libvpx-vp9")
WEBM_AUDIO = ("opus", "vorbis", "libopus", "libvorbis")


def _check_codecs(inp, out_path: Path, mode: str) -> None:
    """WebM holds only VP8/VP9/AV1 video and Opus/Vorbis audio: refuse others up front."""
    if out_path.suffix.lower() != ".webm":
        return
    for s in list(inp.streams.video) + (list(inp.streams.audio) if mode == "keep" else []):
        allowed = WEBM_VIDEO if s.type == "video" else WEBM_AUDIO
        if s.codec_context.name not in allowed:
            raise UnsupportedCodecError(
                out_path,
                f"WebM cannot hold {s.type} codec {s.codec_context.name!r}; write .mkv or .mp4 instead",
            )


def _resolve_audio(audio: Audio | str | Path) -> Audio:
    if isinstance(audio, Audio):
        return audio
    return decode_audio(audio)


def mux_audio(
    video_path: str | Path,
    out_path: str | Path,
    audio: Audio | str | Path,
    *,
    mode: MuxMode = "replace",
    captions: Sequence[Cue] | None = None,
    caption_language: str = "eng",
) -> Path:
    """Write ``out_path``: the video of ``video_path`` (packets copied) with ``audio`` muxed in.

    audio: an Audio (its ``start`` places it on the video timeline) or a media
    path to decode. mode: "replace" drops the input's audio tracks, "keep"
    copies them and adds the new one. captions: optional cues for a caption
    track tagged ``caption_language``. The output format follows the extension
    (.mp4, .m4v, .mov, .mkv, .webm). Written atomically; returns ``out_path``.
    """
    video_path, out_path = Path(video_path), Path(out_path)
    if mode not in MUX_MODES:
        raise ValueError(f"Invalid mode {mode!r}. Supported: 'replace', 'keep'")
    ext = out_path.suffix.lower()
    if ext not in OUTPUT_FORMATS:
        raise ValueError(
            f"Invalid output extension {ext!r} for {out_path}. Supported: {', '.join(OUTPUT_FORMATS)}"
        )
    new_audio = _resolve_audio(audio)
    with open_media(video_path) as inp:
        if not inp.streams.video:
            raise NoStreamError(video_path, "no video stream to mux audio into")
        _check_codecs(inp, out_path, mode)
        try:
            _write(inp, out_path, new_audio, OUTPUT_FORMATS[ext], mode, captions, caption_language)
        except (av.error.FFmpegError, ValueError, OSError) as err:
            cause = " ".join(str(err).split())
            raise MediaError(out_path, f"cannot write {ext} output ({cause})") from err
    return out_path


def _write(inp, out_path: Path, new_audio: Audio, fmt: tuple, mode, captions, language: str) -> None:
    muxer, acodec, sample_fmt, ccodec = fmt
    start, duration = _video_span(inp, inp.streams.video[0])
    copy = list(inp.streams.video) + (list(inp.streams.audio) if mode == "keep" else [])
    with atomic_path(out_path) as tmp, av.open(str(tmp), mode="w", format=muxer) as out:
        mapping = {s: out.add_stream_from_template(s) for s in copy}
        rate = _encoder_rate(acodec, new_audio.sample_rate)
        channels = new_audio.wave.shape[0]
        astream = out.add_stream(acodec, rate=rate, layout="mono" if channels == 1 else "stereo")
        wave = fit_to_span(new_audio, rate, start, duration)
        wave = wave if channels <= 2 else wave[:2]
        streams = [
            _copied_packets(inp, mapping),
            _audio_packets(astream, wave, rate, round(start * rate), sample_fmt),
        ]
        if captions:
            cstream = out.add_mux_stream(ccodec, time_base=CAPTION_TIME_BASE)
            cstream.metadata["language"] = language
            streams.append(_caption_packets(cstream, ccodec, captions))
        for packet in heapq.merge(*streams, key=_seconds):
            out.mux(packet)
