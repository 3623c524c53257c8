"""Gate activations of the recurrent layers, recomputed step by step for diagnostics.

torch's fused RNNs return hidden states, not gates. :func:`gate_activations` replays a one-way
``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` (tanh) on the input it was given, with its own weights, and
returns each layer's gates (the replayed outputs equal the module's: a test holds that).
:func:`recurrent_layers` names every recurrent layer of a model, the names the training log uses.

Gates, in [0, 1]: LSTM ``input``, ``forget``, ``output``; GRU ``reset``, ``update``. A plain RNN has
none; its ``tanh`` entry is the hidden state mapped to [0, 1] (``(h + 1) / 2``), so "saturated"
means the same there: a unit whose derivative is nearly zero.
"""

from __future__ import annotations

import torch
from torch import nn

from avseq.models.rnn import STATE_NAMES, MaskedRNN, cell_of, state_parts

GATES: dict[str, tuple[str, ...]] = {
    "lstm": ("input", "forget", "output"),
    "gru": ("reset", "update"),
    "rnn": ("tanh",),
}


def recurrent_layers(model: nn.Module) -> list[tuple[str, nn.RNNBase, int]]:
    """Every one-way recurrent layer in ``model`` as (name, torch RNN, layer index in it).

    Names are module paths plus the layer: ``model.rnn.0`` (layer 0 of a one-way stack),
    ``model.encoder.0.fwd`` / ``model.encoder.0.bwd`` (a bidirectional :class:`MaskedRNN`),
    ``model.decoder.1``. A torch RNN built bidirectional (avseq builds none) is left out.
    """
    found: list[tuple[str, nn.RNNBase, int]] = []
    inside: set[int] = set()
    for path, module in model.named_modules():
        if isinstance(module, MaskedRNN):
            for name, rnn, layer in module.named_layers():
                found.append((f"{path}.{name}", rnn, layer))
                inside.add(id(rnn))
        elif isinstance(module, nn.RNNBase) and id(module) not in inside and not module.bidirectional:
            found += [(f"{path}.{k}", module, k) for k in range(module.num_layers)]
    return found


@torch.no_grad()
def gate_activations(
    rnn: nn.RNNBase, x: torch.Tensor, hx: torch.Tensor | tuple[torch.Tensor, ...] | None = None
) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
    """Replay a one-way, batch-first ``rnn`` on x (B, T, I) from ``hx`` (torch's layout, None = zeros).

    Returns the top layer's outputs (B, T, H), as ``rnn(x, hx)[0]`` gives them without dropout,
    and per layer a dict gate -> activations (B, T, H) in [0, 1] (names in :data:`GATES`).
    """
    if rnn.bidirectional or not rnn.batch_first or rnn.proj_size:
        raise ValueError("gate_activations replays one-way, batch-first RNNs without projections")
    cell = cell_of(rnn)
    zeros = x.new_zeros(rnn.num_layers, x.shape[0], rnn.hidden_size)
    start = {k: zeros for k in STATE_NAMES[cell]} if hx is None else state_parts(cell, hx)
    layers = []
    for k in range(rnn.num_layers):
        weights = [getattr(rnn, f"{w}_l{k}", None) for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        x, gates = _replay_layer(cell, x, {name: t[k] for name, t in start.items()}, *weights)
        layers.append(gates)
    return x, layers


def _replay_layer(cell, x, state, w_ih, w_hh, b_ih, b_hh) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One layer over x (B, T, I) from ``state`` (name -> (B, H)): (outputs (B, T, H), gate -> (B, T, H))."""
    h, c = state["h"], state.get("c")
    pre_in = nn.functional.linear(x, w_ih, b_ih)  # the input part of every step at once
    outs, gates = [], {g: [] for g in GATES[cell]}
    for t in range(x.shape[1]):
        pre_h = nn.functional.linear(h, w_hh, b_hh)
        if cell == "lstm":
            zi, zf, zg, zo = (pre_in[:, t] + pre_h).chunk(4, -1)  # torch's order: i, f, g, o
            i, f, o = zi.sigmoid(), zf.sigmoid(), zo.sigmoid()
            c = f * c + i * torch.tanh(zg)
            h = o * torch.tanh(c)
            step = {"input": i, "forget": f, "output": o}
        elif cell == "gru":
            ir, iz, i_n = pre_in[:, t].chunk(3, -1)
            hr, hz, h_n = pre_h.chunk(3, -1)
            r, z = (ir + hr).sigmoid(), (iz + hz).sigmoid()
            h = (1 - z) * torch.tanh(i_n + r * h_n) + z * h
            step = {"reset": r, "update": z}
        else:
            h = torch.tanh(pre_in[:, t] + pre_h)
            step = {"tanh": (h + 1) / 2}
        outs.append(h)
        for name, value in step.items():
            gates[name].append(value)
    return torch.stack(outs, 1), {name: torch.stack(v, 1) for name, v in gates.items()}


def saturated(gate: torch.Tensor, low: float = 0.05, high: float = 0.95) -> torch.Tensor:
    """Bool mask of activations below ``low`` or above ``high`` (same shape as ``gate``)."""
    return (gate < low) | (gate > high)
