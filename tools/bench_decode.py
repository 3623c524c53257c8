"""Benchmark avseq's video decoding against PyAV's plain full decode in the same run.

Generates (once, cached in the temp dir) a 1280x720 H.264 clip of ``--seconds``
seconds at 30 fps with a keyframe every 2 s, then times (best of ``--repeats``):

- ``pyav_decode``: every frame decoded with PyAV, nothing else (the baseline);
- ``pyav_decode_rgb``: the same plus conversion of every frame to an RGB array;
- ``pyav_decode_rgb_keep``: the same, keeping 2 s of arrays at a time (like avseq_all's windows);
- ``avseq_all``: every frame as RGB tensors through ``iter_video`` (2 s windows, constant memory);
- ``avseq_8fps_224``: ``decode_video(fps=8, size=(224, 224))`` (skips non-reference frames it does not need);
- ``avseq_16_uniform``: ``decode_video(num_frames=16)`` (decodes only the GOPs that hold them, seeking);
- ``*_exact``: the same two samplings with ``mode="exact"`` (decode everything), to show what fast saves;
- ``ffmpeg``: ``ffmpeg -i clip -f null -`` when the ``ffmpeg`` CLI is on PATH, else null.

Cases run round-robin (the machine may be shared) and each keeps its best time.
Prints one JSON line with seconds and ratios to ``pyav_decode`` (below 1 is faster).
Run: ``.venv/bin/python tools/bench_decode.py [--seconds 20] [--repeats 2] [--threads 0]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from avseq.io import decode_video, iter_video
from avseq.io.atomic import atomic_path

WIDTH, HEIGHT, FPS, KEYINT = 1280, 720, 30, 60


def _frame(i: int, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """A moving gradient with two moving boxes: (H, W, 3) uint8."""
    img = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    img[..., 0] = (xx + 3 * i) % 256
    img[..., 1] = (yy + 2 * i) % 256
    img[..., 2] = ((xx + yy) // 2 + i) % 256
    x, y = (17 * i) % (WIDTH - 200), (11 * i) % (HEIGHT - 150)
    img[y : y + 150, x : x + 200] = (255, 255, 255)
    img[HEIGHT - y - 100 : HEIGHT - y, WIDTH - x - 120 : WIDTH - x] = (20, 40, 200)
    return img


def make_clip(seconds: float) -> Path:
    """The cached benchmark clip (written on first use)."""
    path = Path(tempfile.gettempdir()) / "avseq_bench" / f"clip_{WIDTH}x{HEIGHT}_{seconds:g}s_k{KEYINT}.mp4"
    if path.is_file():
        return path
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.int32)
    with atomic_path(path) as tmp, av.open(str(tmp), "w") as out:
        vs = out.add_stream("libx264", rate=Fraction(FPS))
        vs.width, vs.height, vs.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        vs.options = {"preset": "veryfast", "x264-params": f"keyint={KEYINT}:min-keyint={KEYINT}:scenecut=0"}
        for i in range(round(seconds * FPS)):
            out.mux(vs.encode(av.VideoFrame.from_ndarray(_frame(i, yy, xx), format="rgb24")))
        out.mux(vs.encode(None))
    return path


def _best_of(fn: Callable[[], int], repeats: int) -> tuple[float, int]:
    best, count = float("inf"), 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        count = fn()
        best = min(best, time.perf_counter() - t0)
    return best, count


def _interleaved(cases: dict[str, Callable[[], int]], repeats: int) -> tuple[dict, dict]:
    """Best time and frame count per case, running the cases round-robin so load drifts hit all alike."""
    times = dict.fromkeys(cases, float("inf"))
    frames = dict.fromkeys(cases, 0)
    for _ in range(repeats):
        for name, fn in cases.items():
            seconds, frames[name] = _best_of(fn, 1)
            times[name] = min(times[name], seconds)
    return times, frames


def _pyav(path: Path, threads: int, rgb: bool, keep: int = 0) -> int:
    """Plain PyAV decode; ``rgb`` converts each frame, ``keep`` holds that many arrays at a time."""
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        vs.thread_type, vs.codec_context.thread_count = "AUTO", threads
        n, kept = 0, []
        for frame in c.decode(vs):
            if rgb:
                array = frame.to_ndarray(format="rgb24")
                if keep:
                    kept = kept if len(kept) < keep else []
                    kept.append(array)
            n += 1
        return n


def _ffmpeg(path: Path, repeats: int) -> float | None:
    exe = shutil.which("ffmpeg")
    if exe is None:
        return None
    cmd = [exe, "-v", "error", "-i", str(path), "-f", "null", "-"]
    return _best_of(lambda: subprocess.run(cmd, check=True) and 0, repeats)[0]


def run(seconds: float, repeats: int, threads: int) -> dict:
    """Time every variant on the cached clip; returns the JSON-ready result."""
    path = make_clip(seconds)
    cases = {
        "pyav_decode": lambda: _pyav(path, threads, rgb=False),
        "pyav_decode_rgb": lambda: _pyav(path, threads, rgb=True),
        "pyav_decode_rgb_keep": lambda: _pyav(path, threads, rgb=True, keep=2 * FPS),
        "avseq_all": lambda: sum(len(w) for w in iter_video(path, window=2.0, threads=threads)),
        "avseq_8fps_224": lambda: len(decode_video(path, fps=8, size=(224, 224), threads=threads)),
        "avseq_16_uniform": lambda: len(decode_video(path, num_frames=16, threads=threads)),
        "avseq_8fps_224_exact": lambda: len(
            decode_video(path, fps=8, size=(224, 224), mode="exact", threads=threads)
        ),
        "avseq_16_uniform_exact": lambda: len(
            decode_video(path, num_frames=16, mode="exact", threads=threads)
        ),
    }
    _pyav(path, threads, rgb=False)  # warm the page cache
    times, frames = _interleaved(cases, repeats)
    times["ffmpeg"] = _ffmpeg(path, repeats)
    base = times["pyav_decode"]
    return {
        "clip": {"width": WIDTH, "height": HEIGHT, "fps": FPS, "seconds": seconds, "keyint": KEYINT},
        "threads": threads,
        "repeats": repeats,
        "seconds": {k: None if v is None else round(v, 4) for k, v in times.items()},
        "frames": frames,
        "ratio_to_pyav_decode": {k: None if v is None else round(v / base, 3) for k, v in times.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="clip length (>= 20 for the report)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs per variant")
    parser.add_argument("--threads", type=int, default=0, help="decoder threads (0 = automatic)")
    args = parser.parse_args()
    print(json.dumps(run(args.seconds, args.repeats, args.threads)))


if __name__ == "__main__":
    main()
