"""Re-estimate a trained encoder's BatchNorm statistics before it is evaluated or saved.

BatchNorm normalizes with the statistics of the training batch but, at inference, with
running averages updated by momentum while the weights keep moving. A batch of video
frames is a few clips of near-identical frames, so its statistics swing from batch to
batch and the lagging averages can be far from what the final weights produce. A colour
classifier trained through the synthetic captioner's encoder at full learning rate got
0.78-0.91 of held-out clips right in training mode, 0.33-0.67 in eval mode, and 0.83-1.0
once the statistics were recomputed with the weights fixed. (When the encoder learns slowly,
``optim.encoder_lr_scale`` 0.1, the averages keep up and this changes little.) This is the
"precise BatchNorm" of Wu and Johnson, *Rethinking "Batch" in BatchNorm* (2021).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Dataset

from avseq.train.data import eval_batches, loader
from avseq.train.steps import features_of


def batchnorm_layers(system: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """The BatchNorm layers of the system's encoder that train: those a frozen encoder (or a
    frozen member of a concatenated one) keeps in eval mode are left out."""
    encoder, was_training = system.encoder, system.encoder.training
    encoder.train()  # frozen encoders keep their backbone in eval mode
    layers = [m for m in encoder.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training]
    encoder.train(was_training)
    return layers


@torch.no_grad()
def recompute_batchnorm(
    system: nn.Module, dataset: Dataset, kind: str, *, batches: int, batch_size: int, device: torch.device
) -> int:
    """Replace the encoder's BatchNorm running statistics by their average over the first
    ``batches`` batches of ``dataset`` (in order, so runs and resumed runs agree), computed
    with the current weights. Returns the number of batches used (0: nothing to do, e.g. a
    frozen encoder, whose features may be cached). The global RNG is untouched; the mode is
    restored.
    """
    layers = batchnorm_layers(system)
    if not layers or batches <= 0:
        return 0
    was_training = system.training
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches below
    system.encoder.train()
    plan = eval_batches(min(len(dataset), batches * batch_size), batch_size)
    try:
        for batch in loader(dataset, plan, kind, num_workers=0, seed=0):
            features_of(system, batch.to(device))
    finally:
        for m, momentum in zip(layers, momenta, strict=True):
            m.momentum = momentum
        system.train(was_training)
    return len(plan)
