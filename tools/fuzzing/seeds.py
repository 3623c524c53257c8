"""Valid seed clips, one per container/codec pair, tiny (1 s, 32x24 at 8 fps), seeded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# name -> (video codec, audio codec, audio sample rate); None video codec = audio only (WAV)
SEEDS: dict[str, tuple[str | None, str, int]] = {
    "h264_aac.mp4": ("libx264", "aac", 16000),
    "vp9_opus.webm": ("libvpx-vp9", "libopus", 48000),
    "h264_flac.mkv": ("libx264", "flac", 16000),
    "mpeg4_mp3.avi": ("mpeg4", "mp3", 16000),
    "pcm.wav": (None, "pcm_s16le", 16000),
}


def _frames(rng: np.random.Generator, t: int, h: int, w: int) -> np.ndarray:
    """(T, H, W, 3) uint8: a moving gradient plus a little noise (compresses to a few kB)."""
    y, x = np.mgrid[0:h, 0:w]
    out = np.empty((t, h, w, 3), np.uint8)
    for i in range(t):
        base = (x * 6 + y * 3 + i * 20) % 256
        noise = rng.integers(0, 24, size=(h, w))
        for c in range(3):
            out[i, ..., c] = (base + 60 * c + noise) % 256
    return out


def make_seeds(folder: Path, seed: int = 0, seconds: float = 1.0) -> list[Path]:
    """Write every clip of :data:`SEEDS` into ``folder``; returns their paths (sorted by name)."""
    from avseq.io import write_audio, write_video

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    fps, (h, w) = 8.0, (24, 32)
    paths = []
    for name, (vcodec, acodec, rate) in sorted(SEEDS.items()):
        n = int(seconds * rate)
        tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)
        audio = (tone + 0.05 * rng.standard_normal(n)).astype(np.float32)[None]
        path = folder / name
        if vcodec is None:
            write_audio(path, audio, rate)
        else:
            frames = _frames(rng, int(seconds * fps), h, w)
            write_video(
                path, frames, fps=fps, codec=vcodec, audio=audio, sample_rate=rate, audio_codec=acodec
            )
        paths.append(path)
    return paths
