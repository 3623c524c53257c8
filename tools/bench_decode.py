"""Benchmark avseq's video decoding against PyAV and torchcodec in the same run.

Generates (once, cached in the temp dir) an H.264 clip of ``--size`` (1080p or
720p) and ``--seconds`` seconds at 30 fps with a keyframe every 2 s, then times
(best of ``--repeats``):

- ``pyav_decode``: every frame decoded with PyAV, nothing else;
- ``pyav_rgb24``: the same plus PyAV's ``frame.to_ndarray(format="rgb24")`` (the peer for all frames);
- ``avseq_all``: every frame as RGB tensors through ``iter_video`` (2 s windows, constant memory);
- ``avseq_8fps_224``: ``decode_video(fps=8, size=(224, 224))`` (skips non-reference frames it does not need);
- ``avseq_16_uniform``: ``decode_video(num_frames=16)`` (decodes only the GOPs that hold them, seeking);
- ``*_exact``: the same two samplings with ``mode="exact"`` (decode everything), to show what fast saves;
- ``torchcodec_*``: the same three jobs with torchcodec's ``VideoDecoder``, when ``import torchcodec``
  works (an optional peer, never a dependency; null otherwise): all frames in 2 s ranges,
  ``get_frames_played_at`` the same 8 fps times with its ``Resize((224, 224))`` decoder transform,
  ``get_frames_played_at`` the same 16 uniform times;
- ``ffmpeg``: ``ffmpeg -i clip -f null -`` when the ``ffmpeg`` CLI is on PATH, else null.

Every decoder gets the same ``--threads`` (0 = FFmpeg picks). Cases run round-robin (the machine
may be shared) and each keeps its best time. Prints one JSON line with seconds, ratios to
``pyav_decode`` and, under ``ratio_to_peer``, each avseq job against the faster peer doing the
same job (all frames: PyAV rgb24 or torchcodec; sampling: torchcodec); below 1 is faster.

``--device cuda`` runs every decoder on NVDEC (avseq and PyAV with ``hwaccel``, torchcodec with
``device="cuda"``; the ffmpeg CLI with ``-hwaccel cuda``), and ``decoded_on`` says where avseq's
decode really ran (a CPU fallback there makes the figures CPU figures). Run it once per device
on the same machine to compare (``tools/gpu_check.sh`` does).
Run: ``.venv/bin/python tools/bench_decode.py [--size 1080p] [--seconds 20] [--repeats 3] [--threads 0]
[--device cpu]``.
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
from avseq.io.sampling import Sampling, fps_times, uniform_times

SIZES = {"1080p": (1920, 1080), "720p": (1280, 720)}
FPS, KEYINT, WINDOW = 30, 60, 2.0
SAMPLE_FPS, SAMPLE_SIZE, UNIFORM_N = 8, (224, 224), 16


def _frame(i: int, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """A moving gradient with two moving boxes: (H, W, 3) uint8."""
    height, width = yy.shape
    img = np.empty((height, width, 3), np.uint8)
    img[..., 0] = (xx + 3 * i) % 256
    img[..., 1] = (yy + 2 * i) % 256
    img[..., 2] = ((xx + yy) // 2 + i) % 256
    x, y = (17 * i) % (width - 200), (11 * i) % (height - 150)
    img[y : y + 150, x : x + 200] = (255, 255, 255)
    img[height - y - 100 : height - y, width - x - 120 : width - x] = (20, 40, 200)
    return img


def make_clip(seconds: float, width: int, height: int) -> Path:
    """The cached benchmark clip (written on first use)."""
    name = f"clip_{width}x{height}_{seconds:g}s_k{KEYINT}.mp4"
    path = Path(tempfile.gettempdir()) / "avseq_bench" / name
    if path.is_file():
        return path
    yy, xx = np.mgrid[0:height, 0:width].astype(np.int32)
    with atomic_path(path) as tmp, av.open(str(tmp), "w") as out:
        vs = out.add_stream("libx264", rate=Fraction(FPS))
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.options = {"preset": "veryfast", "x264-params": f"keyint={KEYINT}:min-keyint={KEYINT}:scenecut=0"}
        for i in range(round(seconds * FPS)):
            out.mux(vs.encode(av.VideoFrame.from_ndarray(_frame(i, yy, xx), format="rgb24")))
        out.mux(vs.encode(None))
    return path


def _interleaved(cases: dict[str, Callable[[], int]], repeats: int) -> tuple[dict, dict]:
    """Best time and frame count per case, running the cases round-robin so load drifts hit all alike."""
    times = dict.fromkeys(cases, float("inf"))
    frames = dict.fromkeys(cases, 0)
    for _ in range(repeats):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            frames[name] = fn()
            times[name] = min(times[name], time.perf_counter() - t0)
    return times, frames


def _pyav(path: Path, threads: int, rgb: bool, hwaccel: str | None = None) -> int:
    """Plain PyAV decode; ``rgb`` converts each frame with ``to_ndarray(format="rgb24")``."""
    from av.codec.hwaccel import HWAccel

    options = {"hwaccel": HWAccel("cuda", allow_software_fallback=False)} if hwaccel else {}
    with av.open(str(path), **options) as c:
        vs = c.streams.video[0]
        vs.thread_type, vs.codec_context.thread_count = "AUTO", threads
        n = 0
        for frame in c.decode(vs):
            if rgb:
                frame.to_ndarray(format="rgb24")
            n += 1
        return n


def _torchcodec_cases(path: Path, threads: int, device: str = "cpu") -> dict[str, Callable[[], int]]:
    """torchcodec's versions of the three jobs, or {} when torchcodec does not import."""
    try:
        from torchcodec.decoders import VideoDecoder
        from torchcodec.transforms import Resize
    except Exception:  # not installed, or no FFmpeg libraries it can load
        return {}

    def decoder(**kwargs) -> VideoDecoder:
        return VideoDecoder(str(path), num_ffmpeg_threads=threads, device=device, **kwargs)

    def all_frames() -> int:
        dec = decoder()
        end, n, t = dec.metadata.end_stream_seconds, 0, dec.metadata.begin_stream_seconds
        while t < end:
            n += len(dec.get_frames_played_in_range(t, min(t + WINDOW, end)).data)
            t += WINDOW
        return n

    def sampled_8fps() -> int:
        dec = decoder(transforms=[Resize(SAMPLE_SIZE)])
        times = list(fps_times(0.0, dec.metadata.end_stream_seconds, SAMPLE_FPS))
        return len(dec.get_frames_played_at(times).data)

    def uniform() -> int:
        dec = decoder()
        times = uniform_times(0.0, dec.metadata.end_stream_seconds, UNIFORM_N)
        return len(dec.get_frames_played_at(times).data)

    return {
        "torchcodec_all": all_frames,
        "torchcodec_8fps_224": sampled_8fps,
        "torchcodec_16_uniform": uniform,
    }


def _ffmpeg(path: Path, repeats: int, hwaccel: str | None = None) -> float | None:
    exe = shutil.which("ffmpeg")
    if exe is None:
        return None
    cmd = [exe, "-v", "error", *(["-hwaccel", "cuda"] if hwaccel else []), "-i", str(path), "-f", "null", "-"]
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        best = min(best, time.perf_counter() - t0)
    return best


def _torchcodec_version() -> str | None:
    try:
        import torchcodec

        return torchcodec.__version__
    except Exception:
        return None


def _peer_ratios(times: dict) -> dict:
    """Each avseq job against the faster peer doing the same job (null when no peer ran)."""
    jobs = {
        "avseq_all": ("pyav_rgb24", "torchcodec_all"),
        "avseq_8fps_224": ("torchcodec_8fps_224",),
        "avseq_16_uniform": ("torchcodec_16_uniform",),
    }
    out = {}
    for name, peers in jobs.items():
        ran = {p: times[p] for p in peers if times.get(p) is not None}
        best = min(ran, key=ran.get) if ran else None
        out[name] = {"peer": best, "ratio": None if best is None else round(times[name] / ran[best], 3)}
    return out


def decoded_on(path: Path, hwaccel: str | None) -> dict:
    """Where avseq's decode of ``path`` at the 8 fps sampling ran: {"device", "fallback"}."""
    from dataclasses import asdict

    from avseq.io.windows import iter_sampled_arrays

    windows = list(iter_sampled_arrays(path, [Sampling(SAMPLE_FPS, None)], size=SAMPLE_SIZE, hwaccel=hwaccel))
    return asdict(windows[-1].decoded_on)


def run(size: str, seconds: float, repeats: int, threads: int, device: str = "cpu") -> dict:
    """Time every variant on the cached clip; returns the JSON-ready result."""
    width, height = SIZES[size]
    path = make_clip(seconds, width, height)
    hw = "cuda" if device == "cuda" else None
    opts = {"threads": threads, "hwaccel": hw}
    cases = {
        "pyav_decode": lambda: _pyav(path, threads, rgb=False, hwaccel=hw),
        "pyav_rgb24": lambda: _pyav(path, threads, rgb=True, hwaccel=hw),
        "avseq_all": lambda: sum(len(w) for w in iter_video(path, window=WINDOW, **opts)),
        "avseq_8fps_224": lambda: len(decode_video(path, fps=SAMPLE_FPS, size=SAMPLE_SIZE, **opts)),
        "avseq_16_uniform": lambda: len(decode_video(path, num_frames=UNIFORM_N, **opts)),
        "avseq_8fps_224_exact": lambda: len(
            decode_video(path, fps=SAMPLE_FPS, size=SAMPLE_SIZE, mode="exact", **opts)
        ),
        "avseq_16_uniform_exact": lambda: len(decode_video(path, num_frames=UNIFORM_N, mode="exact", **opts)),
        **_torchcodec_cases(path, threads, device),
    }
    where = decoded_on(path, hw)  # also warms the page cache
    times, frames = _interleaved(cases, repeats)
    for name in ("torchcodec_all", "torchcodec_8fps_224", "torchcodec_16_uniform"):
        times.setdefault(name, None)
        frames.setdefault(name, None)
    times["ffmpeg"] = _ffmpeg(path, repeats, hw)
    base = times["pyav_decode"]
    return {
        "clip": {"width": width, "height": height, "fps": FPS, "seconds": seconds, "keyint": KEYINT},
        "device": device,
        "decoded_on": where,
        "threads": threads,
        "repeats": repeats,
        "torchcodec": _torchcodec_version(),
        "seconds": {k: None if v is None else round(v, 4) for k, v in times.items()},
        "frames": frames,
        "ratio_to_pyav_decode": {k: None if v is None else round(v / base, 3) for k, v in times.items()},
        "ratio_to_peer": _peer_ratios(times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="720p", help="clip size")
    parser.add_argument("--seconds", type=float, default=20.0, help="clip length (>= 20 for the report)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs per variant")
    parser.add_argument("--threads", type=int, default=0, help="decoder threads, all decoders (0 = auto)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="decode on the CPU or NVDEC")
    args = parser.parse_args()
    print(json.dumps(run(args.size, args.seconds, args.repeats, args.threads, args.device)))


if __name__ == "__main__":
    main()
