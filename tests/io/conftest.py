"""Tiny generated media for the io tests (written once per session into a temp dir).

Frames carry their own index: the left half is ``16 * (i // 16) + 8``, the right
half ``16 * (i % 16) + 8``, so a decoded frame says which source frame it is.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from avseq.io import write_video

FPS = 20
N_FRAMES = 120  # 6 s
SR = 16000
GOP_OPTIONS = {"x264-params": "keyint=10:min-keyint=10:scenecut=0:bframes=3:b-pyramid=none"}


def id_frames(n: int, h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    """(n, h, w, 3) uint8 frames whose halves encode the frame index (and a noisy corner)."""
    rng = np.random.default_rng(seed)
    fr = np.zeros((n, h, w, 3), np.uint8)
    for i in range(n):
        fr[i, :, : w // 2] = 16 * (i // 16) + 8
        fr[i, :, w // 2 :] = 16 * (i % 16) + 8
        fr[i, :3, :3] = rng.integers(0, 255, (3, 3, 3))
    return fr


def marker_frames(n: int, h: int, w: int) -> np.ndarray:
    """(n, h, w, 3) black frames with a white 4x4 block in the top-left corner."""
    fr = np.zeros((n, h, w, 3), np.uint8)
    fr[:, :4, :4] = 255
    return fr


def frame_ids(data: torch.Tensor) -> list[int]:
    """Source frame index of each decoded uint8 (T, 3, H, W) frame made by :func:`id_frames`."""
    d = data.float()
    h, w = d.shape[2], d.shape[3]
    left = d[:, 0, h // 2, 3 : w // 2 - 1].mean(1)
    right = d[:, 0, h // 2, w // 2 + 1 :].mean(1)
    return (torch.round((left - 8) / 16) * 16 + torch.round((right - 8) / 16)).long().tolist()


def sine(seconds: float, freq: float = 440.0, rate: int = SR, channels: int = 1) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    wave = 0.5 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return np.stack([wave] * channels)


def faststart_copy(src: Path, dst: Path, keep_bytes: float | None = None) -> Path:
    """Remux ``src`` with the index at the front; optionally keep only a fraction of the bytes."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", container_options={"movflags": "faststart"}) as out:
        mapping = {s: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is None:
                continue
            packet.stream = mapping[packet.stream]
            out.mux(packet)
    if keep_bytes is not None:
        data = dst.read_bytes()
        dst.write_bytes(data[: int(len(data) * keep_bytes)])
    return dst


def write_m4a(path: Path, wave: np.ndarray, rate: int = SR) -> Path:
    """Audio-only AAC in an .m4a container."""
    with av.open(str(path), "w", format="ipod") as out:
        stream = out.add_stream("aac", rate=rate, layout="mono")
        for start in range(0, wave.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(wave[:, start : start + 1024]), "fltp", "mono"
            )
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


VFR_PTS = [0.0, 0.1, 0.15, 0.4, 0.45, 0.5, 0.9, 1.0, 1.05, 1.5]


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> dict[str, Path]:
    """Paths of the generated clips, by name."""
    d = tmp_path_factory.mktemp("io_media")
    m: dict[str, Path] = {}
    m["gop"] = write_video(
        d / "gop.mp4", id_frames(N_FRAMES), FPS, pix_fmt="yuv444p", options=GOP_OPTIONS,
        audio=sine(N_FRAMES / FPS), sample_rate=SR,
    )  # fmt: skip
    m["odd"] = write_video(d / "odd.mp4", id_frames(5, 11, 17), 10, pix_fmt="yuv444p")
    m["vfr"] = write_video(d / "vfr.mp4", id_frames(len(VFR_PTS)), 20, pts=VFR_PTS, pix_fmt="yuv444p")
    m["rot"] = write_video(d / "rot.mp4", marker_frames(3, 11, 17), 10, pix_fmt="yuv444p", rotation=90)
    m["multi"] = write_video(
        d / "multi.mp4", id_frames(10), 10, pix_fmt="yuv444p", audio=sine(1.0, 440),
        extra_audio=[sine(1.0, 1000, channels=2)], sample_rate=SR,
    )  # fmt: skip
    m["mkv"] = write_video(
        d / "clip.mkv", id_frames(20), 10, pix_fmt="yuv444p", audio=sine(2.0), sample_rate=SR
    )
    m["m4a"] = write_m4a(d / "audio.m4a", sine(1.0))
    m["truncated"] = faststart_copy(m["gop"], d / "truncated.mp4", keep_bytes=0.4)
    (d / "zero.mp4").write_bytes(b"")
    (d / "random.mp4").write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    m["zero"], m["random"] = d / "zero.mp4", d / "random.mp4"
    return m
