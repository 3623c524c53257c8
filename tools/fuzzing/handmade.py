"""Hand-made hostile inputs: not media, lying headers, and things that are not regular files."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from pathlib import Path

from tools.fuzzing.headers import set_field

HOUR = 3600


def _seed(seeds: list[Path], suffix: str) -> bytes:
    return next(p for p in seeds if p.suffix == suffix).read_bytes()


def _huge_mp4_duration(seeds: list[Path]) -> bytes:
    data = _seed(seeds, ".mp4")
    for name in ("mvhd.duration", "tkhd.duration"):
        data = set_field(data, ".mp4", name, 0xFFFFFFFF)
    data = set_field(data, ".mp4", "mvhd.timescale", 1)  # 4294967295 s, about 136 years
    return set_field(data, ".mp4", "mdhd.duration", 0xFFFFFFFF)


def _huge_mkv_duration(seeds: list[Path]) -> bytes:
    return set_field(_seed(seeds, ".mkv"), ".mkv", "Duration", 1000.0 * HOUR * 1000)  # ms: 1000 h


def _huge_wav_duration(seeds: list[Path]) -> bytes:
    data = set_field(_seed(seeds, ".wav"), ".wav", "data.size", 0xFFFFFFF0)
    data = set_field(data, ".wav", "fmt.sample_rate", 1)
    return set_field(data, ".wav", "fmt.byte_rate", 2)  # 2**31 samples at 1 Hz: 68 years


def _huge_mp4_resolution(seeds: list[Path]) -> bytes:
    data = _seed(seeds, ".mp4")
    for name, value in (("tkhd.width", 100000 << 16), ("tkhd.height", 100000 << 16)):
        data = set_field(data, ".mp4", name, value)
    return set_field(set_field(data, ".mp4", "avc1.width", 0xFFFF), ".mp4", "avc1.height", 0xFFFF)


def _huge_avi_resolution(seeds: list[Path]) -> bytes:
    data = _seed(seeds, ".avi")
    for name in ("avih.width", "avih.height", "strf.width", "strf.height"):
        data = set_field(data, ".avi", name, 100000)
    return data


def _huge_y4m() -> bytes:
    return b"YUV4MPEG2 W100000 H100000 F8:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(4096)


def _wav_many_channels(seeds: list[Path]) -> bytes:
    data = set_field(_seed(seeds, ".wav"), ".wav", "fmt.channels", 4096)
    return set_field(data, ".wav", "fmt.block_align", 8192)


def _text() -> bytes:
    return b"This is not a video.\n" * 200


def _html() -> bytes:
    return b"<!DOCTYPE html><html><body><script>alert(1)</script>404 Not Found</body></html>\n"


def _fake_header() -> bytes:
    # a plausible 'ftyp' box followed by garbage: sniffed as MP4, then nothing parses
    return struct.pack(">I", 24) + b"ftypisom" + b"\x00\x00\x02\x00isomiso2" + os.urandom(2000)


BYTES: dict[str, Callable[[list[Path]], bytes]] = {
    "zero_bytes.mp4": lambda s: b"",
    "text_file.mp4": lambda s: _text(),
    "html_page.webm": lambda s: _html(),
    "ftyp_then_garbage.mp4": lambda s: _fake_header(),
    "huge_duration.mp4": _huge_mp4_duration,
    "huge_duration.mkv": _huge_mkv_duration,
    "huge_duration.wav": _huge_wav_duration,
    "huge_resolution_header.mp4": _huge_mp4_resolution,
    "huge_resolution_header.avi": _huge_avi_resolution,
    "huge_resolution.y4m": lambda s: _huge_y4m(),
    "many_channels.wav": _wav_many_channels,
}


def _big_frame(path: Path) -> None:
    """One real 8192x4352 H.264 frame (35.7 Mpixels, above the default max_pixels cap)."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=1)
        stream.width, stream.height, stream.pix_fmt = 8192, 4352, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        frame = av.VideoFrame(8192, 4352, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def _special(folder: Path) -> list[Path]:
    """A folder named like a clip, a FIFO, symlinks to endless devices and a symlink loop."""
    made = []
    folder_clip = folder / "directory.mp4"
    folder_clip.mkdir(exist_ok=True)
    (folder_clip / "inner.mp4").write_bytes(b"")
    made.append(folder_clip)
    fifo = folder / "fifo.mp4"
    if not fifo.exists():
        os.mkfifo(fifo)
    made.append(fifo)
    for name, target in (("dev_zero.mp4", "/dev/zero"), ("dev_urandom.mkv", "/dev/urandom")):
        link = folder / name
        if not link.is_symlink():
            link.symlink_to(target)
        made.append(link)
    loop = folder / "symlink_loop.mp4"
    if not loop.is_symlink():
        loop.symlink_to(loop.name)
    made.append(loop)
    return made


def make_handmade(folder: Path, seeds: list[Path], big_frame: bool = True) -> list[Path]:
    """Write every hand-made case into ``folder``; returns their paths.

    big_frame: also encode one real frame above the default pixel cap (about 0.5 s, 100 kB).
    """
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in BYTES.items():
        (folder / name).write_bytes(make(seeds))
        paths.append(folder / name)
    if big_frame:
        _big_frame(folder / "huge_resolution_real.mp4")
        paths.append(folder / "huge_resolution_real.mp4")
    return paths + _special(folder)
