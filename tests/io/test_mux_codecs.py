"""Muxing keeps the video packets of any source codec, in a container that can hold them.

Sources are 64x64, 10 frames, made with PyAV where it has an encoder (skipped where this PyAV
lacks one); Theora, which PyAV only decodes, comes from ``samples/`` (see its README).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from avseq.errors import UnsupportedCodecError
from avseq.io import Cue, decode_audio, mux_audio, probe
from avseq.types import Audio
from tests.io.conftest import SR, sine

SAMPLES = Path(__file__).with_name("samples")
SIZE, N_FRAMES, FPS = 64, 10, 10
# name: (encoder, source file, encoder options, the format "auto" picks)
SOURCES = {
    "h264": ("libx264", "h264.mp4", {"x264-params": "bframes=2:keyint=5"}, ".mp4"),
    "h264_mkv": ("libx264", "h264.mkv", {"x264-params": "bframes=2:keyint=5"}, ".mp4"),
    "hevc": ("libx265", "hevc.mkv", {"x265-params": "log-level=error:bframes=2:keyint=5"}, ".mp4"),
    "mpeg4": ("mpeg4", "mpeg4.avi", {"bf": "2", "g": "5"}, ".mp4"),
    "vp8": ("libvpx", "vp8.webm", {"g": "5"}, ".webm"),
    "vp9": ("libvpx-vp9", "vp9.webm", {"g": "5"}, ".mp4"),
    "av1": ("libsvtav1", "av1.mkv", {"svtav1-params": "keyint=5"}, ".mp4"),
    "mjpeg": ("mjpeg", "mjpeg.avi", {}, ".mp4"),
    "theora": (None, "theora.ogv", {}, ".mkv"),
}
CODEC = {"h264_mkv": "h264"}  # the codec of each source, where its name is not the codec's
B_FRAMES = {"h264", "h264_mkv", "hevc", "mpeg4"}  # sources whose packets are not in pts order
# which formats hold which video codecs (FFmpeg's muxers say so; mux_audio asks them)
HOLDS = {
    "mp4": {"h264", "hevc", "mpeg4", "vp9", "av1", "mjpeg"},
    "webm": {"vp8", "vp9", "av1"},
    "mkv": {"h264", "hevc", "mpeg4", "vp8", "vp9", "av1", "mjpeg", "theora"},
}
NEW_AUDIO = {".mp4": "aac", ".mkv": "opus", ".webm": "opus"}


def _frames(n: int) -> list[np.ndarray]:
    """(SIZE, SIZE, 3) uint8 frames: a square moving over a gradient (so P and B frames differ)."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    out = []
    for i in range(n):
        img = np.stack([(xx * 4) % 256, (yy * 4) % 256, np.full_like(xx, 128)], -1).astype(np.uint8)
        img[8:24, 4 * i : 4 * i + 16] = 255
        out.append(img)
    return out


def write_clip(
    path: Path, encoder: str, options: dict, *, audio: bool = False, subtitles: bool = False,
    rotation: int = 0, start: int = 0,
) -> Path:  # fmt: skip
    """A tiny clip of ``encoder`` in the format of ``path``'s extension.

    audio: a 1 s tone (Opus in WebM, AAC elsewhere). subtitles: a subtitle track with one cue.
    rotation: display rotation in degrees. start: first frame's pts in frames (negative allowed).
    """
    ext = path.suffix
    pix_fmt = "yuvj420p" if encoder == "mjpeg" else "yuv420p"
    with av.open(str(path), "w") as out:
        vs = out.add_stream(encoder, rate=FPS)
        vs.width = vs.height = SIZE
        vs.pix_fmt, vs.options = pix_fmt, dict(options)
        if rotation:
            vs.set_display_rotation(rotation)
        if audio:
            acodec = "libopus" if ext == ".webm" else "aac"
            aus = out.add_stream(acodec, rate=48000 if acodec == "libopus" else SR, layout="mono")
        if subtitles:
            scodec = {".mp4": "mov_text", ".mkv": "subrip", ".webm": "webvtt"}[ext]
            ss = out.add_mux_stream(scodec, time_base=Fraction(1, 1000))
        for i, img in enumerate(_frames(N_FRAMES)):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=pix_fmt)
            frame.pts, frame.time_base = i + start, Fraction(1, FPS)
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        if audio:
            rate = aus.codec_context.sample_rate
            wave = sine(1.0, 440, rate=rate)
            frame = av.AudioFrame.from_ndarray(wave, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, round(start / FPS * rate)
            out.mux(aus.encode(frame))
            out.mux(aus.encode(None))
        if subtitles:
            text = b"already here"
            packet = av.Packet(len(text).to_bytes(2, "big") + text if scodec == "mov_text" else text)
            packet.pts = packet.dts = 100
            packet.duration, packet.time_base, packet.stream = 300, Fraction(1, 1000), ss
            out.mux(packet)
    return path


def video_only(src: Path, dst: Path) -> Path:
    """``src``'s video stream alone, its packets copied into ``dst``."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        vs = out.add_stream_from_template(inp.streams.video[0], opaque=True)
        for packet in inp.demux(inp.streams.video[0]):
            if packet.size:
                packet.stream = vs
                out.mux(packet)
    return dst


def source(tmp: Path, name: str, **kwargs) -> Path:
    """The ``name`` source clip in ``tmp``; kwargs as :func:`write_clip` (audio only for theora)."""
    encoder, filename, options, _ = SOURCES[name]
    if encoder is None:
        sample = SAMPLES / "theora_vorbis.ogv"
        return sample if kwargs.get("audio") else video_only(sample, tmp / "theora_video.ogv")
    if encoder not in av.codecs_available:
        pytest.skip(f"this PyAV has no {encoder} encoder")
    tag = "_".join(f"{k}{v}" for k, v in sorted(kwargs.items()) if v)
    path = tmp / (f"{Path(filename).stem}_{tag}{Path(filename).suffix}" if tag else filename)
    return path if path.exists() else write_clip(path, encoder, options, **kwargs)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """A folder the module's source clips are written into once."""
    return tmp_path_factory.mktemp("codecs")


def packets(path: Path) -> list[tuple[float, bytes]]:
    """(pts seconds, bytes) of every non-empty packet of the first video stream, in file order."""
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        return [(float(p.pts * vs.time_base), bytes(p)) for p in c.demux(vs) if p.size]


def assert_same_video(out: Path, src: Path) -> None:
    """The packets are byte-identical, on the same timeline up to one shift (Matroska stores
    no negative timestamps), to the millisecond Matroska keeps."""
    got, want = packets(out), packets(src)
    assert [b for _, b in got] == [b for _, b in want]
    shift = got[0][0] - want[0][0]
    assert [t - shift for t, _ in got] == pytest.approx([t for t, _ in want], abs=1e-3)


def new_audio(seconds: float = 2.0) -> Audio:
    return Audio(torch.from_numpy(sine(seconds, 660)), SR)


@pytest.mark.parametrize("with_audio", [False, True], ids=["silent", "audio"])
@pytest.mark.parametrize("name", SOURCES)
def test_auto_picks_a_format_that_holds_the_video_unchanged(clips, tmp_path, name, with_audio):
    src = source(clips, name, audio=with_audio)
    pts = [t for t, _ in packets(src)]
    assert (pts != sorted(pts)) == (name in B_FRAMES)
    out = mux_audio(src, tmp_path / "with_sound", new_audio(), mode="keep", format="auto")
    ext = SOURCES[name][3]
    assert out == tmp_path / f"with_sound{ext}" and [p.name for p in tmp_path.iterdir()] == [out.name]
    assert_same_video(out, src)
    kept = [a.codec for a in probe(src).audio]
    assert [a.codec for a in probe(out).audio] == [*kept, NEW_AUDIO[ext]]


@pytest.mark.parametrize("fmt", ["mp4", "mkv", "webm"])
@pytest.mark.parametrize("name", SOURCES)
def test_a_named_format_holds_the_video_or_says_which_can(clips, tmp_path, name, fmt):
    # The extension names the format here, as it always could: AV1 read by dav1d and Theora
    # (no encoder) failed in every format, and Matroska with B-frames lost its first packets.
    src, codec = source(clips, name), CODEC.get(name, name)
    out = tmp_path / f"with_sound.{fmt}"
    if codec in HOLDS[fmt]:
        assert mux_audio(src, out, new_audio()) == out
        assert_same_video(out, src)
        return
    label = {"mp4": "MP4", "webm": "WebM"}[fmt]
    with pytest.raises(
        UnsupportedCodecError, match=rf"{label} cannot hold video codec '{codec}'; write \."
    ) as err:
        mux_audio(src, out, new_audio())
    assert ".mkv" in str(err.value) and not list(tmp_path.iterdir())
    # named as a format (what the pipeline's mux stage does), the advice names the formats
    choices = ["auto", *(f for f in ("mp4", "webm", "mkv") if codec in HOLDS[f])]
    advice = f"use format {', '.join(choices[:-1])} or {choices[-1]}"
    with pytest.raises(UnsupportedCodecError, match=rf"{label} cannot hold video codec '{codec}'; {advice}$"):
        mux_audio(src, tmp_path / "with_sound", new_audio(), format=fmt)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "name,fmt", [("h264", "auto"), ("h264_mkv", "auto"), ("h264", "mkv"), ("vp8", "auto"), ("vp8", "mkv")]
)
def test_rotation_is_kept(clips, tmp_path, name, fmt):
    src = source(clips, name, rotation=90)
    assert probe(src).video[0].rotation == 90
    out = mux_audio(src, tmp_path / "with_sound", new_audio(), format=fmt)
    assert probe(out).video[0].rotation == 90
    assert_same_video(out, src)


@pytest.mark.parametrize("name", ["h264", "h264_mkv", "vp8"])
def test_input_subtitles_do_not_get_in_the_way(clips, tmp_path, name):
    # The input's own subtitle track is not copied; the captions given become the one track.
    src = source(clips, name, audio=True, subtitles=True)
    assert len(probe(src).subtitles) == 1
    out = mux_audio(src, tmp_path / "plain", new_audio(), format="auto")
    assert probe(out).subtitles == []
    cues = [Cue(0.1, 0.5, "new caption")]
    out = mux_audio(src, tmp_path / "captioned", new_audio(), mode="keep", captions=cues, format="auto")
    info = probe(out)
    assert len(info.subtitles) == 1 and len(info.audio) == 2
    assert_same_video(out, src)
    with av.open(str(out)) as c:
        texts = b"".join(bytes(p) for p in c.demux(c.streams.subtitles[0]))
    assert b"new caption" in texts and b"already here" not in texts


@pytest.mark.parametrize("fmt", ["mp4", "mkv"])
def test_negative_start_with_b_frames(clips, tmp_path, fmt):
    # The first frame at -0.3 s (an MP4 edit list), decoded after B-frames at dts below it.
    src = source(clips, "h264", start=-3)
    assert packets(src)[0][0] == pytest.approx(-0.3)
    out = mux_audio(src, tmp_path / "with_sound", new_audio(), format=fmt)
    assert_same_video(out, src)
    video = probe(out, scan=True).video[0]
    back = decode_audio(out, sample_rate=SR)
    # the new sound starts with the video and lasts as long, whatever the container did to both
    assert back.start == pytest.approx(video.start_time, abs=1024 / SR)
    assert back.duration == pytest.approx(video.duration, abs=1024 / SR)


def test_format_must_be_one_of_the_choices(media, tmp_path):
    with pytest.raises(ValueError, match=r"Invalid format 'avi'. Supported: 'auto', 'mp4', 'mkv', 'webm'"):
        mux_audio(media["gop"], tmp_path / "x", new_audio(), format="avi")
    assert not list(tmp_path.iterdir())
