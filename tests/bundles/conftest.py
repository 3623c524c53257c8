"""Tiny systems for bundle tests: a real avseq.models sound system and a home-made tied module."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from avseq.bundles import Preprocessing

SOUND_CONFIG = {
    "kind": "sound",
    "encoder": {"name": "compact", "out_dim": 16, "width": 8, "depth": 2},
    "model": {"n_mels": 64, "video_fps": 8.0, "mel_frame_rate": 100.0, "hidden_size": 16, "num_layers": 1},
}


class TiedToy(nn.Module):
    """Follows the bundle protocol (a ``.config`` dict + a builder) and ties two weights."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.config = dict(config)
        self.embed = nn.Embedding(config["vocab"], config["dim"])
        self.out = nn.Linear(config["dim"], config["vocab"], bias=False)
        self.out.weight = self.embed.weight
        self.register_buffer("scale", torch.tensor(2.0))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.embed(ids) * self.scale)


@pytest.fixture
def toy() -> TiedToy:
    torch.manual_seed(0)
    return TiedToy({"kind": "toy", "vocab": 7, "dim": 5})


@pytest.fixture
def sound_preprocessing() -> Preprocessing:
    return Preprocessing(frame_size=(17, 11), fps=8.0, mel="default")
