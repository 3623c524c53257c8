"""Recurrent building blocks shared by every sequence model.

Every sequence model takes a ``cell``: ``"lstm"`` (default), ``"gru"`` or ``"rnn"`` (a plain
tanh RNN). ``make_rnn`` builds a stacked one (batch first), an LSTM with the forget-gate
bias set to 1, which keeps gradients flowing on long sequences; decoders step it one
token at a time, their state kept by :class:`RecurrentState` (the one place that knows an
LSTM carries ``(h, c)`` where a GRU or RNN carries ``h``). ``MaskedRNN`` runs a
(bidirectional) stack over a padded batch so that padding never reaches a valid step.
Decoders are autoregressive and run forward only: bidirectional applies to encoders.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from avseq.errors import ConfigError

Cell = Literal["lstm", "gru", "rnn"]
CELLS: dict[str, type[nn.RNNBase]] = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
# The state a cell carries from step to step, in torch's order for its ``hx``.
STATE_NAMES: dict[str, tuple[str, ...]] = {"lstm": ("h", "c"), "gru": ("h",), "rnn": ("h",)}
ONE_WAY_DECODER = (
    "a decoder generates each token from the ones before it, so it runs forward only; "
    "bidirectional applies to encoders (the captioner's frame encoder, the sound model, the classifier)"
)


def check_cell(cell: str, key: str = "cell") -> type[nn.RNNBase]:
    """The torch class for ``cell``; any other value raises ConfigError naming ``key`` and the choices."""
    if cell not in CELLS:
        raise ConfigError(f"Invalid {key} {cell!r}. Supported: {', '.join(CELLS)}")
    return CELLS[cell]


def state_parts(cell: Cell, hx: torch.Tensor | tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
    """torch's ``hx`` (a tensor, a tuple ``(h, c)`` for an LSTM) as name -> tensor (:data:`STATE_NAMES`)."""
    return dict(zip(STATE_NAMES[cell], hx if isinstance(hx, tuple) else (hx,), strict=True))


def state_hx(cell: Cell, parts: dict[str, torch.Tensor]) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """The inverse of :func:`state_parts`: name -> tensor as the ``hx`` torch's RNN of ``cell`` takes."""
    hx = tuple(parts[k] for k in STATE_NAMES[cell])
    return hx if len(hx) > 1 else hx[0]


def cell_of(rnn: nn.RNNBase) -> Cell:
    """The ``cell`` name of a torch RNN module (``nn.RNN`` with ReLU is not one of avseq's cells)."""
    names = {"LSTM": "lstm", "GRU": "gru", "RNN_TANH": "rnn"}
    if rnn.mode not in names:
        raise ValueError(f"no avseq cell for a torch RNN of mode {rnn.mode!r}")
    return names[rnn.mode]


def make_rnn(
    cell: Cell,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    dropout: float = 0.0,
    bidirectional: bool = False,
) -> nn.RNNBase:
    """A batch-first stacked LSTM/GRU/tanh RNN; LSTM forget-gate biases start at 1 (b_ih) and 0 (b_hh).

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


class RecurrentState(nn.Module):
    """A decoder's recurrent state: made from a summary vector, and converted to and from torch's.

    ``forward`` maps a summary (N, S) to the initial state, ``tanh`` of a linear map per
    entry: ``{"h"}``, and ``"c"`` for an LSTM (:data:`STATE_NAMES`). The state is kept
    batch-first, each entry (N, layers, H), so beam search reorders it along dim 0 whatever the
    cell; :meth:`join` / :meth:`split` convert to and from the ``hx`` torch's RNN takes.
    """

    def __init__(self, cell: Cell, summary_dim: int, hidden_size: int, num_layers: int) -> None:
        super().__init__()
        check_cell(cell)
        self.cell, self.num_layers, self.hidden_size = cell, num_layers, hidden_size
        self.names = STATE_NAMES[cell]  # what the state holds: "h", and "c" for an LSTM
        self.proj = nn.ModuleDict({n: nn.Linear(summary_dim, num_layers * hidden_size) for n in self.names})

    def forward(self, summary: torch.Tensor) -> dict[str, torch.Tensor]:
        """summary (N, S) -> the initial state, each entry (N, layers, H)."""
        n = summary.shape[0]
        return {
            k: torch.tanh(p(summary)).view(n, self.num_layers, self.hidden_size) for k, p in self.proj.items()
        }

    def join(self, state: dict[str, torch.Tensor]) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """Batch-first state -> torch's ``hx``: (layers, N, H), a tuple ``(h, c)`` for an LSTM."""
        return state_hx(self.cell, {k: state[k].transpose(0, 1).contiguous() for k in self.names})

    def split(self, hx: torch.Tensor | tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        """torch's ``hx`` -> the batch-first state, each entry (N, layers, H)."""
        return {k: t.transpose(0, 1) for k, t in state_parts(self.cell, hx).items()}


class MaskedRNN(nn.Module):
    """A stacked, optionally bidirectional LSTM/GRU/tanh RNN over padded batches, without packing.

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

    def named_layers(self) -> list[tuple[str, nn.RNNBase, int]]:
        """Each recurrent layer as (name, the torch RNN that runs it, its layer index there):
        ``"0"``, ``"1"``... one way; ``"0.fwd"``, ``"0.bwd"``... bidirectional."""
        if not self.bidirectional:
            return [(str(k), self.layers[0], k) for k in range(self.layers[0].num_layers)]
        directions = [zip(("fwd", "bwd"), pair, strict=True) for pair in self.layers]
        return [(f"{i}.{d}", rnn, 0) for i, pair in enumerate(directions) for d, rnn in pair]

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
