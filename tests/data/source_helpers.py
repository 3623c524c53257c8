"""Tiny clips laid out as each dataset lays them out, and a runner for ``avseq data``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from avseq.cli import main

RATE = 16000


def make_clip(
    path: Path, seconds: float = 1.5, audio: str | None = "tone", seed: int = 0, fps: float = 8.0
) -> Path:
    """A seeded noise clip of (H, W) = (16, 24); audio: "tone" (a 440 Hz sine at half scale),
    "silent" (digital silence) or None (no audio stream)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 255, size=(max(int(seconds * fps), 1), 16, 24, 3), dtype=np.uint8)
    wave = None
    if audio is not None:
        t = np.arange(int(seconds * RATE)) / RATE
        wave = (0.5 * np.sin(2 * np.pi * 440 * t) if audio == "tone" else 0 * t).astype(np.float32)
    from avseq.io import write_video

    return write_video(path, frames, fps=fps, audio=wave, sample_rate=RATE)


def make_corrupt(path: Path) -> Path:
    """A file with a video name that holds no media."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("<html>404 not found</html>\n")
    return path


def run_data(*args: str) -> tuple[int, str, str]:
    """``avseq data ARGS`` in process: (exit code, stdout, stderr)."""
    result = CliRunner().invoke(
        main, ["data", *args, "--no-progress", "--workers", "2"], catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


def report(out: Path) -> dict[str, str]:
    """id -> reason of every clip left out."""
    lines = (out / "report.jsonl").read_text().splitlines()
    return {r["id"]: r["reason"] for r in map(json.loads, lines)}


def split_ids(out: Path) -> dict[str, list[str]]:
    """split -> ids of its manifest, in order."""
    return {
        s: [json.loads(line)["id"] for line in (out / f"{s}.jsonl").read_text().splitlines()]
        for s in ("train", "val", "test")
    }
