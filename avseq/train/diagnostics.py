"""What the training log records about vanishing and exploding gradients.

- ``grad_norm/<layer>``: each layer's gradient norm before clipping, on every logged step
  (``train.grad_norms_per_layer``). A layer is a recurrent layer (``model.rnn.0``, one direction
  of a bidirectional one: ``model.encoder.0.fwd``), or a module holding a weight matrix or kernel,
  together with the norm layers that follow it (a convolution and its BatchNorm).
- ``clip_frac``: the fraction of the steps since the previous row whose gradients were clipped
  (``optim.grad_clip``); ``clipped`` stays the 0/1 flag of the row's own step.
- ``gate_sat/<layer>.<gate>``: every ``train.saturation_every`` steps, the fraction of each
  recurrent layer's gate activations below 0.05 or above 0.95 (LSTM input/forget/output, GRU
  reset/update, a plain RNN's tanh; see :mod:`avseq.models.gates`), measured on one fixed sample
  batch (the first validation batch) in eval mode, over its valid steps only: frames within each
  clip's length, and decoder steps whose input token is neither padding nor ``<eos>``.

The report (:mod:`avseq.report.training`) draws each ``<family>/...`` set of columns as one panel.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from avseq.data.collate import CaptionBatch, SoundBatch
from avseq.models.gates import GATES, gate_activations, recurrent_layers, saturated
from avseq.models.rnn import MaskedRNN, cell_of, length_mask
from avseq.types import Features

if TYPE_CHECKING:
    from avseq.train.steps import LossOptions

GRAD_NORM = "grad_norm/"
GATE_SAT = "gate_sat/"


def layer_groups(system: nn.Module) -> dict[str, list[nn.Parameter]]:
    """The trainable parameters of ``system`` by layer (see the module docstring), in model order."""
    in_rnn = {}
    for name, rnn, layer in recurrent_layers(system):
        for pname, p in rnn.named_parameters():
            if re.fullmatch(rf"[a-z_]+_l{layer}", pname):
                in_rnn[id(p)] = name
    params = [(n, p) for n, p in system.named_parameters() if p.requires_grad]
    owners_with_matrix = {n.rpartition(".")[0] for n, p in params if p.dim() >= 2}
    groups: dict[str, list[nn.Parameter]] = {}
    last = None
    for pname, p in params:
        owner = pname.rpartition(".")[0] or pname
        name = in_rnn.get(id(p)) or (owner if owner in owners_with_matrix or last is None else last)
        groups.setdefault(name, []).append(p)
        last = name
    return groups


@torch.no_grad()
def layer_grad_norms(groups: dict[str, list[nn.Parameter]]) -> dict[str, float]:
    """``grad_norm/<layer>`` -> the L2 norm of the layer's gradients; layers without any are left out."""
    names, norms = [], []
    for name, params in groups.items():
        grads = [p.grad for p in params if p.grad is not None]
        if grads:
            names.append(GRAD_NORM + name)
            per_tensor = torch.stack([torch.linalg.vector_norm(g.float()) for g in grads])
            norms.append(torch.linalg.vector_norm(per_tensor))
    return dict(zip(names, torch.stack(norms).tolist(), strict=True)) if norms else {}


def gate_columns(system: nn.Module) -> list[str]:
    """The ``gate_sat/<layer>.<gate>`` columns of ``system``'s recurrent layers."""
    return [
        f"{GATE_SAT}{name}.{gate}"
        for name, rnn, _ in recurrent_layers(system)
        for gate in GATES[cell_of(rnn)]
    ]


def gate_saturation(
    system: nn.Module, batch: SoundBatch | CaptionBatch, options: LossOptions, device: torch.device
) -> dict[str, float]:
    """``gate_sat/<layer>.<gate>`` -> fraction of saturated activations on ``batch`` (see the module
    docstring). ``options``: the run's :class:`~avseq.train.steps.LossOptions`; captions are taught
    by teacher forcing here in every phase. Leaves the system's mode, weights and RNG as they were."""
    from avseq.train.steps import batch_loss  # steps imports this module

    names = {(id(rnn), layer): name for name, rnn, layer in recurrent_layers(system)}
    loss = lambda: batch_loss(system, batch.to(device), dataclasses.replace(options, reward=None))  # noqa: E731
    counts: dict[str, list[float]] = {}
    for rnn, x, hx, valid in _record_rnn_calls(system, loss):
        _, layers = gate_activations(rnn, x.float(), hx)
        for layer, gates in enumerate(layers):
            for gate, values in gates.items():
                found = counts.setdefault(f"{GATE_SAT}{names[id(rnn), layer]}.{gate}", [0.0, 0.0])
                found[0] += float(saturated(values)[valid].sum())
                found[1] += float(valid.sum()) * values.shape[-1]
    return {k: s / n for k, (s, n) in counts.items() if n > 0}


def fixed_features(system: nn.Module, batch: SoundBatch | CaptionBatch) -> SoundBatch | CaptionBatch:
    """``batch`` with its frames replaced by the encoder's features once the whole encoder is frozen
    (they no longer change, so later gate probes skip the CNN); else ``batch`` itself."""
    from avseq.train.steps import features_of

    if not getattr(system.encoder, "frozen", False) or isinstance(batch.video, Features):
        return batch
    with torch.no_grad():
        return dataclasses.replace(batch, video=Features(*features_of(system, batch)))


Call = tuple[nn.RNNBase, torch.Tensor, Any, torch.Tensor]  # module, input, hx, valid steps


def _record_rnn_calls(system: nn.Module, run: Callable[[], object]) -> list[Call]:
    """Run ``run()`` in eval mode without gradients; every call of a one-way recurrent module as
    (module, input (B, T, I), hx or None, valid steps (B, T) bool).

    Valid steps: inside a :class:`MaskedRNN`, those within each clip's length (padding comes after
    them in both directions there); in a decoder, those whose input token, the last one embedded,
    is neither ``<pad>`` nor ``<eos>`` (the steps whose next token the loss scores).
    """
    model = getattr(system, "model", system)
    ends = torch.tensor(
        [i for i in (getattr(model, "pad_id", None), getattr(model, "eos_id", None)) if i is not None]
    )
    calls, lengths, tokens = [], [], []

    def rnn_call(module, args, kwargs):
        x = args[0]
        valid = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        if lengths:
            valid = length_mask(lengths[-1].to(x.device), x.shape[1])
        elif tokens:
            ids = tokens[-1][:, None] if tokens[-1].dim() == 1 else tokens[-1]
            if ids.shape == x.shape[:2]:
                valid = ~torch.isin(ids, ends.to(ids.device)).to(x.device)
        calls.append((module, x.detach(), args[1] if len(args) > 1 else kwargs.get("hx"), valid))

    def enter(module, args):  # hooks return None: a value would replace the module's args or output
        lengths.append(args[1])

    def leave(module, args, out):
        lengths.pop()

    def embed(module, args):
        tokens[:] = [args[0]]

    hooks = []
    for module in system.modules():
        if isinstance(module, MaskedRNN):
            hooks += [module.register_forward_pre_hook(enter), module.register_forward_hook(leave)]
        elif isinstance(module, nn.RNNBase) and not module.bidirectional:
            hooks.append(module.register_forward_pre_hook(rnn_call, with_kwargs=True))
        elif isinstance(module, nn.Embedding):
            hooks.append(module.register_forward_pre_hook(embed))
    was_training = system.training
    system.eval()
    try:
        with torch.no_grad():
            run()
    finally:
        system.train(was_training)
        for hook in hooks:
            hook.remove()
    return calls


@dataclass(frozen=True)
class Diagnostics:
    """What a run records: per-layer gradient norms (``groups`` empty when off) and gate saturation
    every ``saturation_every`` steps (None when off), on the CSV columns ``columns``."""

    groups: dict[str, list[nn.Parameter]]
    saturation_every: int | None
    columns: list[str]

    def probe_due(self, step: int) -> bool:
        return self.saturation_every is not None and step % self.saturation_every == 0


def plan(system: nn.Module, grad_norms_per_layer: bool, saturation_every: int | None) -> Diagnostics:
    """The diagnostics of ``system`` as the training config asks for them."""
    groups = layer_groups(system) if grad_norms_per_layer else {}
    columns = [GRAD_NORM + name for name in groups]
    if saturation_every is not None:
        columns += gate_columns(system)
    return Diagnostics(groups, saturation_every, columns)
