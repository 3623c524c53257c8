"""Tiny random-init bundles, tiny generated clips and pipeline files for the pipeline tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from avseq.pipeline.outdir_lock import LOCK_NAME
from tools.fuzzing.bundles import ENCODER, PREPROCESSING, tiny_bundles

DENSE_CAPTIONS = ("a red ball bounces", "a blue cube slides", "two balls roll")

torch.set_num_threads(1)  # tiny models; the test machine's cores are shared


@pytest.fixture(scope="session")
def bundles(tmp_path_factory) -> dict[str, Path]:
    """{"sound": folder, "caption": folder} of tiny random-init bundles."""
    return tiny_bundles(tmp_path_factory.mktemp("bundles"), version="test-1")


@pytest.fixture(scope="session")
def dense_bundle(tmp_path_factory) -> Path:
    """A tiny random-init dense_caption bundle whose proposal scores swing from frame to frame
    (sharp weights), so a clip of a few seconds has several events."""
    from avseq.bundles import save_bundle
    from avseq.models import Tokenizer, build_system

    tok = Tokenizer.build(list(DENSE_CAPTIONS))
    config = {
        "kind": "dense_caption",
        "encoder": ENCODER,
        "model": {"vocab_size": len(tok), "hidden_size": 8, "embed_dim": 8, "proposal_hidden": 8},
    }
    torch.manual_seed(0)
    system = build_system(config)
    with torch.no_grad():
        system.model.proposal_out.weight.mul_(40.0)
        system.model.proposal_out.bias.zero_()
    folder = tmp_path_factory.mktemp("dense") / "dense"
    return save_bundle(folder, system, PREPROCESSING, tokenizer=tok, version="test-1")


def bundle_overrides(bundles: dict[str, Path], pipeline: str) -> list[str]:
    """--set overrides pointing a shipped pipeline's bundle stages at the tiny bundles."""
    stages = {
        "caption.yaml": {"caption": "caption"},
        "sound.yaml": {"sound": "sound"},
        "caption_and_sound.yaml": {"caption": "caption", "sound": "sound"},
        "extract_features.yaml": {"encode": "sound"},
        # no tiny dense_caption or classify bundles here: these keep the shipped level-2 ones
        "dense_captions.yaml": {},
        "event_labels.yaml": {},
    }[pipeline]
    return [f"stages.{sid}.params.bundle={bundles[kind]}" for sid, kind in stages.items()]


def make_clip(path: Path, seconds: float = 1.0, fps: float = 8.0, seed: int = 0, size=(24, 32)) -> Path:
    """A tiny seeded clip: moving noise, (H, W) = ``size``, no audio."""
    rng = np.random.default_rng(seed)
    t = max(int(seconds * fps), 1)
    frames = rng.integers(0, 255, size=(t, size[0], size[1], 3), dtype=np.uint8)
    from avseq.io import write_video

    return write_video(path, frames, fps=fps)


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> list[Path]:
    """Three tiny clips of different lengths in one folder."""
    root = tmp_path_factory.mktemp("clips")
    return [make_clip(root / f"clip{i}.mp4", seconds=0.75 + 0.5 * i, seed=i) for i in range(3)]


PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
SHIPPED_PIPELINES = sorted(p.name for p in PIPELINES.glob("*.yaml"))  # each needs a bundle_overrides entry


def full_pipeline(
    tmp: Path, bundles: dict[str, Path], *, mux: bool = False, window: float | None = None
) -> Path:
    """A pipeline with every branch (captions, sound, features) on the tiny bundles; returns its path."""
    stages = [
        {"id": "decode", "type": "decode_video", "params": {"window": window} if window else {}},
        {"id": "frames", "type": "frames", "input": "decode"},
        {
            "id": "caption",
            "type": "caption",
            "input": "frames",
            "params": {"bundle": str(bundles["caption"]), "beam_size": 2, "max_len": 6},
        },
        {"id": "captions", "type": "write_captions", "input": "caption"},
        {"id": "sound", "type": "sound", "input": "frames", "params": {"bundle": str(bundles["sound"])}},
        {"id": "vocoder", "type": "vocoder", "input": "sound", "params": {"n_iter": 2, "nnls_iter": 2}},
        {"id": "wav", "type": "write_audio", "input": "vocoder"},
        {
            "id": "encode",
            "type": "encode_frames",
            "input": "frames",
            "params": {"bundle": str(bundles["sound"])},
        },
        {"id": "features", "type": "write_features", "input": "encode"},
    ]
    if mux:
        stages.append(
            {"id": "mux", "type": "mux", "input": ["vocoder", "caption"], "params": {"captions": True}}
        )
    doc = {"version": 1, "device": "cpu", "batch_size": 4, "workers": 2, "timeout": 30, "stages": stages}
    path = tmp / "full.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def read_results(outdir: Path) -> list[dict]:
    """The lines of OUTDIR/results.jsonl."""
    return [json.loads(line) for line in (outdir / "results.jsonl").read_text().splitlines()]


def output_files(outdir: Path) -> set[str]:
    """Every file under OUTDIR except results.jsonl / summary.json and the run lock, relative."""
    return {p.relative_to(outdir).as_posix() for p in outdir.rglob("*") if p.is_file()} - {
        "results.jsonl",
        "summary.json",
        LOCK_NAME,
    }


def hidden_leftovers(outdir: Path) -> list[Path]:
    """Hidden files and folders under OUTDIR (staging, temp files) other than the run lock."""
    return [p for p in outdir.rglob(".*") if p != outdir / LOCK_NAME]
