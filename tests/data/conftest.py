"""Tiny synthetic clips shared by the data tests (32x32, 1-2 s, no background noise)."""

from __future__ import annotations

import av
import numpy as np
import pytest

from avseq.data import SynthConfig, generate_split, read_manifest

TINY = SynthConfig(
    width=32, height=32, min_duration=1.0, max_duration=2.0, noise_prob=0.0, captions_per_clip=3
)


@pytest.fixture(scope="session")
def tiny_config() -> SynthConfig:
    return TINY


@pytest.fixture(scope="session")
def tiny_split(tmp_path_factory):
    """Manifest of 6 generated train clips (seeds 0-5 cover every action and material)."""
    out = tmp_path_factory.mktemp("synth")
    return generate_split(out, "train", 6, TINY, progress=False)


@pytest.fixture(scope="session")
def tiny_entries(tiny_split):
    return read_manifest(tiny_split)


def _decode_mono(path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as c:
        rate = c.streams.audio[0].sample_rate
        wave = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
    return wave.mean(axis=0).astype(np.float32), rate


def _decode_rgb(path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.reformat(format="rgb24", threads=1).to_ndarray() for f in c.decode(video=0)])


@pytest.fixture(scope="session")
def decode_mono():
    """path -> (first audio stream as (N,) float32, sample rate), read with PyAV."""
    return _decode_mono


@pytest.fixture(scope="session")
def decode_rgb():
    """path -> all video frames as (T, H, W, 3) uint8, read with PyAV."""
    return _decode_rgb
