"""Recurrent building blocks shared by every sequence model.

``make_rnn`` builds a stacked LSTM or GRU (batch first) with the forget-gate bias
set to 1, which keeps gradients flowing on long sequences. ``run_rnn`` runs it
over a padded batch with packing, so padded steps never touch the state and a
padded batch gives each item the answer it gets alone.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from avseq.errors import ConfigError

Cell = Literal["lstm", "gru"]
CELLS: dict[str, type[nn.RNNBase]] = {"lstm": nn.LSTM, "gru": nn.GRU}


def check_cell(cell: str) -> type[nn.RNNBase]:
    """The torch class for ``cell``; an unknown name raises ConfigError listing the choices."""
    if cell not in CELLS:
        raise ConfigError(f"Unknown cell {cell!r}. Supported: {', '.join(sorted(CELLS))}")
    return CELLS[cell]


def make_rnn(
    cell: Cell,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    dropout: float = 0.0,
    bidirectional: bool = False,
) -> nn.RNNBase:
    """A batch-first stacked LSTM/GRU; LSTM forget-gate biases start at 1 (b_ih) and 0 (b_hh).

    ``dropout`` applies between layers only (as in torch), so it is ignored for one layer.
    """
    cls = check_cell(cell)
    if num_layers < 1:
        raise ConfigError(f"num_layers must be >= 1, got {num_layers}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
    rnn = cls(
        input_size,
        hidden_size,
        num_layers=num_layers,
        dropout=dropout if num_layers > 1 else 0.0,
        bidirectional=bidirectional,
        batch_first=True,
    )
    if cell == "lstm":
        init_forget_bias(rnn, 1.0)
    return rnn


def init_forget_bias(lstm: nn.LSTM, value: float = 1.0) -> None:
    """Set the forget-gate slice of every ``bias_ih`` to ``value`` and of ``bias_hh`` to 0.

    torch orders LSTM gates (input, forget, cell, output), so the forget gate is
    the second quarter of each bias vector.
    """
    h = lstm.hidden_size
    with torch.no_grad():
        for name, param in lstm.named_parameters():
            if name.startswith("bias_ih"):
                param[h : 2 * h].fill_(value)
            elif name.startswith("bias_hh"):
                param[h : 2 * h].zero_()


def run_rnn(
    rnn: nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | tuple[torch.Tensor, torch.Tensor]]:
    """Run ``rnn`` over the valid steps of a padded batch.

    x: (B, T, D); lengths: (B,) int, each in [1, T].
    Returns outputs (B, T, H * directions) with zeros at padded steps, and the
    final state (h, or (h, c) for an LSTM), each (layers * directions, B, H),
    taken at each item's last valid step.
    """
    check_lengths(lengths, x.shape[1])
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, state = rnn(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, state


def check_lengths(lengths: torch.Tensor, t_max: int) -> None:
    """Raise ValueError unless ``lengths`` is a 1-D int tensor with values in [1, t_max]."""
    if lengths.dim() != 1 or lengths.dtype.is_floating_point:
        raise ValueError(f"lengths must be a 1-D integer tensor, got {tuple(lengths.shape)} {lengths.dtype}")
    if len(lengths) and (int(lengths.min()) < 1 or int(lengths.max()) > t_max):
        raise ValueError(f"lengths must lie in [1, {t_max}], got {lengths.tolist()}")


def length_mask(lengths: torch.Tensor, t_max: int) -> torch.Tensor:
    """(B, t_max) bool mask, True at valid steps (index < length)."""
    return torch.arange(t_max, device=lengths.device)[None, :] < lengths[:, None]


def masked_mean(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean over the valid steps. x: (B, T, D) -> (B, D)."""
    mask = length_mask(lengths.to(x.device), x.shape[1]).unsqueeze(-1).to(x.dtype)
    return (x * mask).sum(1) / mask.sum(1).clamp_min(1.0)


def masked_max(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Max over the valid steps. x: (B, T, D) -> (B, D)."""
    mask = length_mask(lengths.to(x.device), x.shape[1]).unsqueeze(-1)
    return x.masked_fill(~mask, float("-inf")).amax(1)


def last_valid(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The step at index ``length - 1`` of each item. x: (B, T, D) -> (B, D)."""
    idx = (lengths.to(x.device) - 1).view(-1, 1, 1).expand(-1, 1, x.shape[2])
    return x.gather(1, idx).squeeze(1)
