"""Tiny training configs over one tiny generated synthetic dataset shared by the tests."""

from __future__ import annotations

import copy

import pytest

from avseq.train.config import config_from_dict

TINY_DATA = {
    "synth": {
        "width": 32, "height": 32, "fps": 8, "min_duration": 1.0, "max_duration": 1.5,
        "captions_per_clip": 2, "max_count": 2, "crf": 30,
    },
    "splits": {"train": {"clips": 4}, "val": {"clips": 2}},
}  # fmt: skip
ENCODER = {"name": "compact", "out_dim": 16, "width": 8, "depth": 3}
TINY = {
    "caption": {
        "preprocessing": {"fps": 8, "frame_size": [32, 32]},
        "system": {
            "kind": "caption", "encoder": ENCODER,
            "model": {"hidden_size": 16, "embed_dim": 8, "word_head": True},
        },
        "loss": {"word_bce": 1.0},
    },
    "sound": {
        "preprocessing": {"fps": 8, "frame_size": [32, 32], "mel": "default"},
        "system": {
            "kind": "sound", "encoder": ENCODER,
            "model": {
                "hidden_size": 16, "num_layers": 1, "dropout": 0.2, "upsample": "output", "onset_head": True,
                "floor": -6.0,
            },
        },
        "loss": {"onset_weight": 1.0, "onset_bce": 1.0},
    },
}  # fmt: skip


@pytest.fixture(scope="session")
def tiny_data_root(tmp_path_factory):
    """Folder holding the tiny train/val splits (generated on first use by the first run)."""
    return tmp_path_factory.mktemp("tiny_synth")


@pytest.fixture
def tiny_config(tiny_data_root, tmp_path):
    """``tiny_config(kind, **sections)``: a validated config of a few steps writing into tmp_path."""

    def make(kind: str, **sections):
        raw = copy.deepcopy(TINY[kind])
        raw["data"] = {**TINY_DATA, "root": str(tiny_data_root)}
        raw["optim"] = {"lr": 0.003, "warmup_steps": 1}
        raw["train"] = {
            "steps": 4,
            "batch_size": 2,
            "val_every": 2,
            "log_every": 1,
            "progress": False,
            "threads": 1,
        }
        raw["output_dir"] = str(tmp_path / "run")
        for name, values in sections.items():
            raw[name] = {**raw.get(name, {}), **values}
        return config_from_dict(raw, f"<tiny {kind}>")

    return make
