"""Recurrent building blocks shared by every sequence model.

``make_rnn`` builds a stacked LSTM or GRU (batch first) with the forget-gate bias
set to 1, which keeps gradients flowing on long sequences; decoders step it one
token at a time. ``MaskedRNN`` runs a (bidirectional) stack over a padded batch so
that padding never reaches a valid step.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

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


class MaskedRNN(nn.Module):
    """A stacked, optionally bidirectional LSTM/GRU over padded batches, without packing.

    Packed sequences make the CPU backward pass of long sequences 100x slower, so this
    runs the fused RNN on the padded tensor instead: the forward direction never sees
    the padding (it comes after the valid steps), and the backward direction runs on
    each clip reversed within its own length. Padded outputs are zero, so a padded
    batch gives each item the answer it gets alone.

    x (B, T, input_size), lengths (B,) -> (B, T, hidden_size * directions).
    """

    def __init__(
        self,
        cell: Cell,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        self.bidirectional = bidirectional
        self.out_dim = hidden_size * (2 if bidirectional else 1)
        if not bidirectional:
            self.layers = nn.ModuleList([make_rnn(cell, input_size, hidden_size, num_layers, dropout)])
        else:
            sizes = [input_size] + [2 * hidden_size] * (num_layers - 1)
            self.layers = nn.ModuleList(
                nn.ModuleList([make_rnn(cell, n, hidden_size), make_rnn(cell, n, hidden_size)]) for n in sizes
            )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        check_lengths(lengths, x.shape[1])
        mask = length_mask(lengths.to(x.device), x.shape[1])[..., None]
        if not self.bidirectional:
            return self.layers[0](x)[0] * mask
        rev = reverse_index(lengths.to(x.device), x.shape[1])
        for i, (fwd, bwd) in enumerate(self.layers):
            if i:
                x = self.dropout(x)
            backward = _gather_time(bwd(_gather_time(x, rev))[0], rev)
            x = torch.cat([fwd(x)[0], backward], -1)
        return x * mask


def reverse_index(lengths: torch.Tensor, t_max: int) -> torch.Tensor:
    """(B, t_max) time index that reverses each row within its length and leaves padding in place."""
    t = torch.arange(t_max, device=lengths.device)[None, :]
    return torch.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)


def _gather_time(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return x.gather(1, index[..., None].expand(-1, -1, x.shape[2]))


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
