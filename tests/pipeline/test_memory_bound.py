"""Peak memory of a run does not follow the source's resolution or length (issue: real-footage cost).

Each run is a separate ``avseq run`` process; its peak is the largest VmHWM in its process tree,
read from /proc while it runs (tools/proc_memory.py), so the test process's own size never counts.
"""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import yaml

from tools.proc_memory import TreeMemory

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")

# a run's peak may differ by this much between inputs that should cost the same (allocator noise)
SLACK_MB = 64


def write_clip(path: Path, size: tuple[int, int], frames: int, fps: int) -> Path:
    """Smooth moving content, H.264, ``frames`` frames of ``size = (H, W)``."""
    h, w = size
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=Fraction(fps), options={"preset": "ultrafast", "crf": "30"})
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        xx = np.arange(w, dtype=np.int32)[None, :]
        yy = np.arange(h, dtype=np.int32)[:, None]
        for i in range(frames):
            img = np.empty((h, w, 3), np.uint8)
            img[..., 0] = (xx + 3 * i) % 256
            img[..., 1] = (yy + 2 * i) % 256
            img[..., 2] = ((xx + yy) // 2 + i) % 256
            for packet in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
    return path


def pipeline(tmp: Path, fps: float | None) -> Path:
    """decode -> frames (16x16) -> a tiny random CNN -> features.safetensors: no bundle needed.

    A 16 MiB budget for decoded media (the least a pipeline may set): what a run may hold beyond
    its fixed size stays well under the slack, however long the input (the default budget,
    512 MiB, would hide a leak)."""
    frames = {"size": [16, 16], **({"fps": fps} if fps else {})}
    doc = {"version": 1, "workers": 1, "memory": "16MiB", "stages": [
        {"id": "decode", "type": "decode_video"},
        {"id": "frames", "type": "frames", "input": "decode", "params": frames},
        {"id": "encode", "type": "encode_frames", "input": "frames",
         "params": {"encoder": "compact", "options": {"out_dim": 8, "width": 4, "depth": 2}}},
        {"id": "features", "type": "write_features", "input": "encode"},
    ]}  # fmt: skip
    path = tmp / f"pipe_{fps}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def peak_mb(pipe: Path, clip: Path, out: Path) -> tuple[float, dict]:
    """(largest VmHWM in the run's process tree, the run's own summary.json) of one ``avseq run``."""
    cmd = [sys.executable, "-c", "from avseq.cli import entry; entry()", "run", str(pipe), "-i", str(clip),
           "-o", str(out), "--quiet"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with TreeMemory(proc.pid, interval=0.05) as memory:
        _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    return memory.peak_rss_mb, yaml.safe_load((out / "summary.json").read_text())


@pytest.mark.slow
def test_4k_costs_what_its_360p_twin_costs(tmp_path):
    """8 frames of 3840x2160 against the same 8 frames at 640x360 (4K frames alone: 25 MB each)."""
    pipe = pipeline(tmp_path, fps=8)
    big = write_clip(tmp_path / "uhd.mp4", (2160, 3840), frames=8, fps=8)
    small = write_clip(tmp_path / "sd.mp4", (360, 640), frames=8, fps=8)
    peak_small, _ = peak_mb(pipe, small, tmp_path / "out_small")
    peak_big, summary = peak_mb(pipe, big, tmp_path / "out_big")
    assert peak_big - peak_small < SLACK_MB, (peak_big, peak_small)
    # the run reports its own peak: close to what /proc showed from outside
    assert abs(summary["peak_rss_mb"] - peak_big) < SLACK_MB, (summary["peak_rss_mb"], peak_big)


@pytest.mark.slow
def test_four_minutes_cost_what_five_seconds_cost(tmp_path):
    """Every frame of a 4-minute 160x90 clip at 30 fps (7,200 frames, 0.3 GB as decoded) in one
    window, against 5 s of the same: frames leave the decoder at the 16x16 the branch needs."""
    pipe = pipeline(tmp_path, fps=None)
    long = write_clip(tmp_path / "long.mp4", (90, 160), frames=30 * 240, fps=30)
    short = write_clip(tmp_path / "short.mp4", (90, 160), frames=30 * 5, fps=30)
    peak_short, _ = peak_mb(pipe, short, tmp_path / "out_short")
    peak_long, _ = peak_mb(pipe, long, tmp_path / "out_long")
    assert peak_long - peak_short < SLACK_MB, (peak_long, peak_short)
