"""Many-to-one clip classifier: frame features -> class logits."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from avseq.models.rnn import Cell, MaskedRNN, last_valid, masked_max, masked_mean

Pooling = Literal["mean", "max", "last"]
POOLINGS = ("mean", "max", "last")


class ClipClassifier(nn.Module):
    """features (B, T, D), lengths (B,) -> logits (B, num_classes).

    An RNN over the valid frames, then ``pooling`` of its states over the valid steps:
    ``"mean"`` / ``"max"``, or ``"last"`` (the state at each clip's last valid frame;
    for a bidirectional RNN the backward half is read at the same step).
    """

    def __init__(
        self,
        in_dim: int,
        num_classes: int,
        *,
        hidden_size: int = 256,
        num_layers: int = 1,
        cell: Cell = "lstm",
        dropout: float = 0.0,
        bidirectional: bool = False,
        pooling: Pooling = "mean",
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"Invalid pooling {pooling!r}. Supported: {', '.join(POOLINGS)}")
        self.pooling = pooling
        self.input_proj = nn.Linear(in_dim, hidden_size)
        self.rnn = MaskedRNN(cell, hidden_size, hidden_size, num_layers, dropout, bidirectional)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.rnn.out_dim, num_classes)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """features (B, T, D), lengths (B,) -> logits (B, num_classes)."""
        states = self.rnn(self.dropout(torch.relu(self.input_proj(features))), lengths)
        pool = {"mean": masked_mean, "max": masked_max, "last": last_valid}[self.pooling]
        return self.head(self.dropout(pool(states, lengths)))
