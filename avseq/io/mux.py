"""Put new audio (and optionally a caption track) next to a video's untouched packets.

Every video packet is copied, never re-encoded, whatever its codec (decode-only ones such as
Theora and AV1 through dav1d included). The new audio is encoded to AAC for MP4/MOV and Opus
for MKV/WebM, placed on the video's timeline and cut or padded with silence to exactly the
video's duration. Captions become a ``mov_text`` track in MP4/MOV and a WebVTT track in MKV/WebM.

The output format is the one that can hold the copied streams: FFmpeg's muxer says which
codecs it holds (:func:`muxer_codecs`), and ``format="auto"`` takes MP4 when it can, else
WebM (VP8/VP9/AV1 with Opus/Vorbis: what browsers play), else Matroska. A format that cannot
hold a copied stream is refused before anything is written.

The input is read once: the video's span is measured from its packets while they are
copied, and the audio is encoded only as far as the packets read so far vouch for. What is
left beyond the packet copy is encoding the new audio (``tools/bench_mux.py`` measures both).
"""

from __future__ import annotations

import functools
import heapq
import io
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from operator import itemgetter
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
MuxFormat = Literal["auto", "mp4", "mkv", "webm"]
MUX_FORMATS = ("auto", "mp4", "mkv", "webm")
# format="auto" takes the first of these that holds every copied stream
AUTO_ORDER = (".mp4", ".webm", ".mkv")
FORMAT_NAMES = {".mp4": "MP4", ".m4v": "MP4", ".mov": "MOV", ".mkv": "Matroska", ".webm": "WebM"}
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
# FFmpeg's default AAC search ("twoloop") takes 0.4-1.3 ms per 1024-sample frame, most on
# quiet audio such as the shipped vocoder's: 80-90% of a mux, 10-50x the packet copy.
# "fast" takes 0.1-0.3 ms and, on vocoder output and the real clips, keeps the decoded
# waveform and log-mel at least as close to the input (tests/io/test_mux.py checks the SNR).
ENCODER_OPTIONS = {"aac": {"aac_coder": "fast"}}
# Samples per frame handed to the encoder; PyAV cuts them to the codec's frame size, so the
# packets are those of 1024-sample frames, for a quarter of the Python round trips.
AUDIO_CHUNK = 4096
LOOKAHEAD_BYTES = 32 << 20  # packets held at most while reading ahead for the audio; beyond: scan first


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
    wave, offset = _aligned(audio, rate, start, channels)
    return _window(wave, offset, 0, round(duration * rate))


def _aligned(audio: Audio, rate: int, start: float, channels: int | None = None) -> tuple[np.ndarray, int]:
    """``audio`` as float32 (C, N) at ``rate`` Hz and the output sample (0 = ``start``) its first lands on."""
    wave = audio.wave.detach().cpu().numpy().astype(np.float32)
    return resample_wave(wave, audio.sample_rate, rate, channels), round((audio.start - start) * rate)


def _window(wave: np.ndarray, offset: int, lo: int, hi: int) -> np.ndarray:
    """Output samples ``[lo, hi)`` of ``wave`` placed at ``offset``: float32 (C, hi - lo), 0 elsewhere."""
    src0, dst0 = max(0, lo - offset), max(0, offset - lo)
    count = max(0, min(wave.shape[1] - src0, hi - lo - dst0))
    if count == hi - lo:
        return wave[:, src0 : hi - offset]
    out = np.zeros((wave.shape[0], hi - lo), dtype=np.float32)
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


class _Rescan(Exception):
    """The video's span cannot be measured while its packets are copied; scan them first."""


class _VideoReader:
    """The packets to copy, in file order, read ahead on demand; meanwhile the first video
    stream's span is measured from its packets: what ``scan_stream`` gives, without a pass
    of its own over the file.

    The start (least pts) is final once a packet's dts reaches it, as no later packet has
    pts < dts or an earlier dts (muxers refuse both); a later pts before it raises _Rescan
    all the same, as do a video packet without pts (the header's span applies then), a
    file without video packets and a read-ahead past LOOKAHEAD_BYTES. The end (greatest
    pts + duration) only grows, so the audio up to it can be encoded before the last packet
    is read. ``span``: (start, duration) in seconds measured beforehand; nothing is measured then.

    Every packet with a timestamp is copied: Matroska stores no dts, so the first packets of
    a stream with B-frames come without one, and the muxer derives it from their pts.
    """

    def __init__(self, container, copy: list, video, span: tuple[float, float] | None = None) -> None:
        container.seek(0)
        self._demux = container.demux(*copy)
        self._ahead: deque[av.Packet] = deque()
        self._ahead_bytes = 0
        self._seconds = {s.index: float(s.time_base) for s in copy}
        self._video, self._scale = video.index, video.time_base.as_integer_ratio()
        self._span = span
        self._first = self._last = None  # least pts, greatest pts + duration, in time_base units
        self._start_known = self._ended = False

    def _read(self) -> None:
        """Read the next packet into the read-ahead queue (or note the end of the file)."""
        packet = next(self._demux, None)
        if packet is None:
            self._ended = True
            if self._span is None and self._first is None:
                raise _Rescan
            return
        if self._span is None and packet.stream.index == self._video and packet.size:
            self._measure(packet)
        if packet.size and (packet.dts is not None or packet.pts is not None):
            self._ahead.append(packet)
            self._ahead_bytes += packet.size

    def _read_ahead(self) -> None:
        if self._ahead_bytes >= LOOKAHEAD_BYTES:
            raise _Rescan
        self._read()

    def _measure(self, packet: av.Packet) -> None:
        if packet.pts is None or (self._start_known and packet.pts < self._first):
            raise _Rescan
        end = packet.pts + max(packet.duration or 0, 0)
        self._first = packet.pts if self._first is None else min(self._first, packet.pts)
        self._last = end if self._last is None else max(self._last, end)
        self._start_known = self._start_known or (packet.dts is not None and packet.dts >= self._first)

    def start(self) -> float:
        """The video's start in seconds, reading ahead until it is final."""
        if self._span is not None:
            return self._span[0]
        while not (self._start_known or self._ended):
            self._read_ahead()
        return self._in_seconds(self._first)

    def samples(self, rate: int, want: int) -> int:
        """Samples at ``rate`` known to lie within the video (call :meth:`start` first): at least
        ``want``, reading ahead as needed, or fewer when the file ends (the video's duration then)."""
        if self._span is not None:
            return round(self._span[1] * rate)
        while not self._ended and self._known(rate) < want:
            self._read_ahead()
        return self._known(rate)

    def _known(self, rate: int) -> int:
        return round((self._in_seconds(self._last) - self._in_seconds(self._first)) * rate)

    def _in_seconds(self, ts: int) -> float:
        """``float(ts * time_base)`` (both round the exact ratio once) without a Fraction."""
        num, den = self._scale
        return ts * num / den

    def packets(self, mapping: dict) -> Iterator[tuple[float, av.Packet]]:
        """(dts in seconds, packet) of each packet to copy, its stream set to ``mapping[stream]``;
        a packet without dts takes its stream's previous key (its pts when first), so that each
        stream's keys never decrease."""
        keys: dict[int, float] = {}
        while True:
            while not (self._ahead or self._ended):
                self._read()
            if not self._ahead:
                return
            packet = self._ahead.popleft()
            self._ahead_bytes -= packet.size
            index = packet.stream.index
            if packet.dts is not None:
                keys[index] = packet.dts * self._seconds[index]
            seconds = keys.setdefault(index, packet.pts * self._seconds[index])
            packet.stream = mapping[packet.stream]
            yield seconds, packet


def _audio_packets(
    stream, audio: Audio, rate: int, fmt: str, video: _VideoReader
) -> Iterator[tuple[float, av.Packet]]:
    """(seconds, packet) of ``audio`` encoded on ``stream``, placed on the video's timeline and
    cut or padded to its duration; each chunk reads the video only as far ahead as it needs."""
    start = video.start()
    wave, offset = _aligned(audio, rate, start)
    wave, chunk, first_pts = wave[:2], AUDIO_CHUNK, round(start * rate)

    def frames() -> Iterator[av.AudioFrame]:
        lo = 0
        while (n := video.samples(rate, lo + chunk)) > lo:
            hi = min(lo + chunk, n)
            yield from frames_from_wave(_window(wave, offset, lo, hi), rate, chunk, first_pts + lo)
            lo = hi

    def encoded() -> Iterator[av.Packet]:
        for frame in resample_frames(frames(), rate=None, channels=None, fmt=fmt):
            yield from stream.encode(frame)
        yield from stream.encode(None)

    yield from _timed(encoded())


def _timed(packets: Iterable[av.Packet]) -> Iterator[tuple[float, av.Packet]]:
    """(dts in seconds, packet): the merge key; the packets share one time base."""
    scale = None
    for packet in packets:
        scale = scale or float(packet.time_base)
        ts = packet.dts if packet.dts is not None else packet.pts
        yield (ts or 0) * scale, packet


def _video_span(container, vs) -> tuple[float, float]:
    """(start, duration) in seconds of video stream ``vs``, measured from its packets."""
    table = scan_stream(container, vs)
    container.seek(0)
    if not table.has_pts:
        start = float((vs.start_time or 0) * vs.time_base)
        return start, float((vs.duration or 0) * vs.time_base)
    start = float(int(table.pts.min()) * table.time_base)
    return start, table.end_seconds() - start


@functools.cache
def muxer_codecs(muxer: str) -> frozenset[str]:
    """Names of every codec (encoders and decoders alike) FFmpeg's ``muxer`` can hold."""
    with av.open(io.BytesIO(), mode="w", format=muxer) as out:
        return frozenset(out.supported_codecs)


def _copied(inp, mode: str) -> list:
    """The input streams whose packets are copied: the video, and the audio in "keep" mode."""
    return list(inp.streams.video) + (list(inp.streams.audio) if mode == "keep" else [])


def _codec(path: Path, stream) -> av.Codec:
    """The codec FFmpeg reads ``stream`` with (its ``canonical_name`` is the format's: 'av1')."""
    if stream.codec_context is None:
        raise UnsupportedCodecError(path, f"no codec available for {stream.type} stream {stream.index}")
    return stream.codec_context.codec


def _refused(path: Path, streams: list, ext: str) -> list:
    """The streams of ``streams`` the muxer of ``ext`` cannot hold."""
    held = muxer_codecs(OUTPUT_FORMATS[ext][0])
    return [s for s in streams if _codec(path, s).name not in held]


def _output_path(video_path: Path, out_path: Path, inp, fmt: str | None, mode: str) -> Path:
    """``out_path`` with the extension of the format that holds the copied streams.

    fmt: None keeps ``out_path``'s extension; "auto" takes the first of AUTO_ORDER that
    holds them all; "mp4" / "mkv" / "webm" that one. UnsupportedCodecError (naming the
    input, whose codec is the cause, and the formats that can) when it cannot.
    """
    streams = _copied(inp, mode)
    holds = [ext for ext in OUTPUT_FORMATS if not _refused(video_path, streams, ext)]
    if fmt is None:
        ext, path = out_path.suffix.lower(), out_path
        advice = f"write {_either(holds)} instead" if holds else "no output format can"
    elif fmt == "auto":
        ext = next((e for e in AUTO_ORDER if e in holds), AUTO_ORDER[-1])
        path, advice = out_path.with_suffix(ext), "nor can MP4 or WebM"
    else:
        ext, path = f".{fmt}", out_path.with_suffix(f".{fmt}")
        advice = f"use format {_either(['auto', *(e[1:] for e in AUTO_ORDER if e in holds)])}"
    if ext in holds:
        return path
    stream = _refused(video_path, streams, ext)[0]
    what = f"{stream.type} codec {_codec(video_path, stream).canonical_name!r}"
    raise UnsupportedCodecError(video_path, f"{FORMAT_NAMES[ext]} cannot hold {what}; {advice}")


def _either(choices: Sequence[str]) -> str:
    """``a, b or c`` (``choices`` not empty)."""
    *rest, last = choices
    return f"{', '.join(rest)} or {last}" if rest else last


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
    format: MuxFormat | None = None,
) -> Path:
    """Write the video of ``video_path`` (packets copied) with ``audio`` muxed in; return its path.

    audio: an Audio (its ``start`` places it on the video timeline) or a media
    path to decode. mode: "replace" drops the input's audio tracks, "keep"
    copies them and adds the new one. captions: optional cues for a caption
    track tagged ``caption_language``. format: None writes ``out_path`` in the format of its
    extension (.mp4, .m4v, .mov, .mkv, .webm); "auto" picks the first of MP4, WebM, Matroska
    that holds the copied streams, "mp4" / "mkv" / "webm" names one, and ``out_path``'s
    extension becomes the format's (the path returned). A format that cannot hold a copied
    stream's codec raises UnsupportedCodecError. Written atomically.
    """
    video_path, out_path = Path(video_path), Path(out_path)
    if mode not in MUX_MODES:
        raise ValueError(f"Invalid mode {mode!r}. Supported: 'replace', 'keep'")
    if format is not None and format not in MUX_FORMATS:
        raise ValueError(f"Invalid format {format!r}. Supported: {', '.join(map(repr, MUX_FORMATS))}")
    if format is None and out_path.suffix.lower() not in OUTPUT_FORMATS:
        raise ValueError(
            f"Invalid output extension {out_path.suffix.lower()!r} for {out_path}. "
            f"Supported: {', '.join(OUTPUT_FORMATS)}"
        )
    new_audio = _resolve_audio(audio)
    with open_media(video_path) as inp:
        if not inp.streams.video:
            raise NoStreamError(video_path, "no video stream to mux audio into")
        out_path = _output_path(video_path, out_path, inp, format, mode)
        ext = out_path.suffix.lower()
        try:
            _write(inp, out_path, new_audio, OUTPUT_FORMATS[ext], mode, captions, caption_language)
        except (av.error.FFmpegError, ValueError, OSError) as err:
            cause = " ".join(str(err).split())
            raise MediaError(out_path, f"cannot write {ext} output ({cause})") from err
    return out_path


def _write(inp, out_path: Path, new_audio: Audio, fmt: tuple, mode, captions, language: str) -> None:
    """Mux in one pass over the input, measuring the video's span on the way; scan first
    only where that cannot be done (see _VideoReader)."""
    with atomic_path(out_path) as tmp:
        try:
            _mux(inp, tmp, new_audio, fmt, mode, captions, language, span=None)
        except _Rescan:
            span = _video_span(inp, inp.streams.video[0])
            _mux(inp, tmp, new_audio, fmt, mode, captions, language, span=span)


def _mux(
    inp, tmp: Path, new_audio: Audio, fmt: tuple, mode, captions, language: str, span: tuple | None
) -> None:
    """Write ``tmp`` in one pass; ``span`` (start, duration) when already measured."""
    muxer, acodec, sample_fmt, ccodec = fmt
    copy = _copied(inp, mode)
    with av.open(str(tmp), mode="w", format=muxer) as out:
        # opaque: keep the input's codec; a copy needs no encoder (Theora and dav1d's AV1 have none)
        mapping = {s: out.add_stream_from_template(s, opaque=True) for s in copy}
        video = _VideoReader(inp, copy, inp.streams.video[0], span)
        rate = _encoder_rate(acodec, new_audio.sample_rate)
        layout = "mono" if new_audio.wave.shape[0] == 1 else "stereo"
        astream = out.add_stream(acodec, rate=rate, layout=layout, options=ENCODER_OPTIONS.get(acodec))
        streams = [video.packets(mapping), _audio_packets(astream, new_audio, rate, sample_fmt, video)]
        if captions:
            cstream = out.add_mux_stream(ccodec, time_base=CAPTION_TIME_BASE)
            cstream.metadata["language"] = language
            streams.append(_timed(_caption_packets(cstream, ccodec, captions)))
        for _, packet in heapq.merge(*streams, key=itemgetter(0)):
            out.mux(packet)
