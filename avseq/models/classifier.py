"""Many-to-one clip classifier: frame features -> class logits, one softmax per attribute."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import torch
from torch import nn

from avseq.models.rnn import Cell, MaskedRNN, last_valid, masked_max, masked_mean

Pooling = Literal["mean", "max", "last"]
POOLINGS = ("mean", "max", "last")
SINGLE = "class"  # the one attribute of a classifier built from ``num_classes``


class ClipClassifier(nn.Module):
    """features (B, T, D), lengths (B,) -> logits (B, C).

    An RNN over the valid frames, then ``pooling`` of its states over the valid steps:
    ``"mean"`` / ``"max"``, or ``"last"`` (the state at each clip's last valid frame;
    for a bidirectional RNN the backward half is read at the same step).

    Classes: ``num_classes`` (one softmax over C classes), or ``attributes``, name -> its class
    names (e.g. ``{"material": ["metal", "wood"], "action": ["bounce", "slide", "struck"]}``):
    one softmax per attribute, their logits side by side in the order of the attribute names
    (sorted: a bundle.json, whose keys are sorted, gives the same order back), so C is the sum of
    the class counts; :meth:`split` cuts logits into each attribute's.
    """

    def __init__(
        self,
        in_dim: int,
        num_classes: int | None = None,
        *,
        attributes: Mapping[str, Sequence[str]] | None = None,
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
        self.attributes = class_lists(num_classes, attributes)
        self.pooling = pooling
        self.input_proj = nn.Linear(in_dim, hidden_size)
        self.rnn = MaskedRNN(cell, hidden_size, hidden_size, num_layers, dropout, bidirectional)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.rnn.out_dim, sum(len(c) for c in self.attributes.values()))

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """features (B, T, D), lengths (B,) -> logits (B, C), every attribute's side by side."""
        states = self.rnn(self.dropout(torch.relu(self.input_proj(features))), lengths)
        pool = {"mean": masked_mean, "max": masked_max, "last": last_valid}[self.pooling]
        return self.head(self.dropout(pool(states, lengths)))

    def split(self, logits: torch.Tensor) -> dict[str, torch.Tensor]:
        """logits (B, C) -> attribute name -> its logits (B, C_a), in :attr:`attributes` order."""
        sizes = [len(c) for c in self.attributes.values()]
        return dict(zip(self.attributes, logits.split(sizes, dim=-1), strict=True))


def class_lists(
    num_classes: int | None, attributes: Mapping[str, Sequence[str]] | None
) -> dict[str, tuple[str, ...]]:
    """The classifier's attributes, name -> class names: ``attributes`` checked and sorted by
    name, or one attribute ``"class"`` of ``num_classes`` classes named ``"0"``... ValueError
    naming the problem."""
    if (num_classes is None) == (attributes is None):
        raise ValueError(
            "give exactly one of num_classes (one softmax) or attributes (name -> class names, "
            f"a softmax each); got num_classes={num_classes!r}, attributes={attributes!r}"
        )
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
        return {SINGLE: tuple(str(i) for i in range(num_classes))}
    if not isinstance(attributes, Mapping) or not attributes:
        raise ValueError(f"attributes must map attribute names to class name lists, got {attributes!r}")
    out = {}
    for name, classes in sorted(attributes.items()):
        if isinstance(classes, str) or not isinstance(classes, Sequence) or not classes:
            raise ValueError(f"attributes.{name} must be a non-empty list of class names, got {classes!r}")
        if len(set(classes)) != len(classes) or not all(isinstance(c, str) for c in classes):
            raise ValueError(
                f"attributes.{name} must list distinct class names (strings), got {list(classes)}"
            )
        out[str(name)] = tuple(classes)
    return out
