"""Benchmark ``mux_audio`` against a plain PyAV packet-copy remux of the same file, in the same run.

For each clip (generated, or given with ``--inputs``) this times, best of ``--repeats``,
running the two cases round-robin so that load drifts on a shared machine hit both alike:

- ``avseq_mux_s``: ``mux_audio(clip, out, audio, mode=--mode)``, the work of the pipeline's
  ``mux`` stage. The new audio is ``--rate`` Hz mono (the shipped vocoder's rate) of the
  clip's length, a stand-in for vocoder output (see :func:`vocoder_like`; the AAC encoder's
  cost depends on what it encodes, and near-silence is its slowest input);
- ``remux_s``: plain PyAV: demux the packets that ``mux_audio`` copies (the video streams,
  plus the audio streams in ``keep`` mode) and mux them into a new file of the same format
  (``--ext``; a clip of any codec the format holds).

Prints one JSON line per clip: clip name, duration, size, both times and ``ratio =
avseq_mux_s / remux_s`` (1.0 = muxing costs no more than copying the packets; what is left
above it is mostly encoding the new audio, which the copy does not do).
Generated clips are 1280x720 H.264 at 30 fps with a 48 kHz stereo AAC track, ``--seconds``
long, cached in the temp dir.
Run: ``.venv/bin/python tools/bench_mux.py [--seconds 10 30] [--inputs CLIP ...] [--mode keep]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from avseq.io import mux_audio, probe
from avseq.io.atomic import atomic_path
from avseq.io.mux import OUTPUT_FORMATS
from avseq.types import Audio

WIDTH, HEIGHT, FPS, KEYINT, AUDIO_RATE = 1280, 720, 30, 60, 48000


def _frame(i: int, yy: np.ndarray, xx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Moving gradients over grain (so the clip has a realistic bit rate): (H, W, 3) uint8."""
    img = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    img[..., 0] = (xx + 3 * i) % 256
    img[..., 1] = (yy + 2 * i) % 256
    img[..., 2] = rng.integers(0, 64, (HEIGHT, WIDTH), dtype=np.uint8)
    return img


def make_clip(seconds: float) -> Path:
    """The cached generated clip of ``seconds`` seconds (written on first use)."""
    path = Path(tempfile.gettempdir()) / "avseq_bench" / f"mux_{WIDTH}x{HEIGHT}_{seconds:g}s.mp4"
    if path.is_file():
        return path
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.int32)
    rng = np.random.default_rng(0)
    with atomic_path(path) as tmp, av.open(str(tmp), "w") as out:
        vs = out.add_stream("libx264", rate=Fraction(FPS))
        vs.width, vs.height, vs.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        vs.options = {"preset": "ultrafast", "x264-params": f"keyint={KEYINT}:min-keyint={KEYINT}:scenecut=0"}
        aus = out.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
        sent = 0
        for i in range(round(seconds * FPS)):
            out.mux(vs.encode(av.VideoFrame.from_ndarray(_frame(i, yy, xx, rng), format="rgb24")))
            while sent < (i + 1) * AUDIO_RATE // FPS:
                t = np.arange(sent, sent + 1024) / AUDIO_RATE
                tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
                frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
                frame.sample_rate, frame.pts = AUDIO_RATE, sent
                out.mux(aus.encode(frame))
                sent += 1024
        out.mux(vs.encode(None))
        out.mux(aus.encode(None))
    return path


def vocoder_like(seconds: float, rate: int, seed: int = 0) -> Audio:
    """(1, N) float32 Audio like a vocoder's output: sound events (noise plus partials) every
    other second, near-silence between them (the untrained shipped model's level, RMS 6e-4)."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    partials = sum(
        np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3)) / k for k, f in enumerate((220, 660, 1500), 1)
    )
    loud = 0.1 * rng.standard_normal(len(t)) + 0.1 * partials
    wave = np.where(t.astype(int) % 2 == 0, loud, 6e-4 * rng.standard_normal(len(t)))
    return Audio(torch.from_numpy(wave.astype(np.float32)[None]), rate)


def remux(src: Path, dst: Path, mode: str) -> None:
    """Plain PyAV packet copy of the streams ``mux_audio`` copies: the reference."""
    muxer = OUTPUT_FORMATS[dst.suffix.lower()][0]
    with av.open(str(src)) as inp, av.open(str(dst), "w", format=muxer) as out:
        copy = list(inp.streams.video) + (list(inp.streams.audio) if mode == "keep" else [])
        mapping = {s: out.add_stream_from_template(s, opaque=True) for s in copy}
        for packet in inp.demux(*copy):
            if packet.size == 0 or (packet.dts is None and packet.pts is None):
                continue
            packet.stream = mapping[packet.stream]
            out.mux(packet)


def _interleaved(cases: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best seconds per case, running the cases round-robin."""
    times = dict.fromkeys(cases, float("inf"))
    for _ in range(repeats):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            times[name] = min(times[name], time.perf_counter() - t0)
    return times


def bench(clip: Path, work: Path, *, mode: str, ext: str, rate: int, repeats: int) -> dict:
    """Time avseq's mux and the plain remux on ``clip``; returns the JSON-ready line."""
    info = probe(clip)
    audio = vocoder_like(info.duration or 10.0, rate)
    cases = {
        "avseq_mux_s": lambda: mux_audio(clip, work / f"mux{ext}", audio, mode=mode),
        "remux_s": lambda: remux(clip, work / f"remux{ext}", mode),
    }
    remux(clip, work / f"remux{ext}", mode)  # warm the page cache and the codec tables
    times = _interleaved(cases, repeats)
    return {
        "clip": clip.name,
        "seconds": round(info.duration or 0.0, 3),
        "mb": round(clip.stat().st_size / 1e6, 2),
        "mode": mode,
        "ext": ext,
        **{k: round(v, 4) for k, v in times.items()},
        "ratio": round(times["avseq_mux_s"] / times["remux_s"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, nargs="+", default=[10.0, 30.0], help="generated clip lengths"
    )
    parser.add_argument(
        "--inputs", type=Path, nargs="+", default=[], help="clips to use instead of generated ones"
    )
    parser.add_argument("--mode", choices=["replace", "keep"], default="replace")
    parser.add_argument("--ext", choices=sorted(OUTPUT_FORMATS), default=".mp4", help="output format")
    parser.add_argument("--rate", type=int, default=16000, help="sample rate of the new audio")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    clips = args.inputs or [make_clip(s) for s in args.seconds]
    with tempfile.TemporaryDirectory() as work:
        for clip in clips:
            line = bench(clip, Path(work), mode=args.mode, ext=args.ext, rate=args.rate, repeats=args.repeats)
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
