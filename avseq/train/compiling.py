"""``train.compile``: the training forward of the sequence model and the frame encoder, compiled.

:func:`compile_for_training` gives the parts of a system that train a forward that runs through
``torch.compile`` while the part trains (training mode, gradients on, some of its parameters
learning) and eagerly otherwise: validation, decoding, the feature cache, the BatchNorm
recomputation and a frozen encoder all run the eager code, and pay no compilation. The parts
(:func:`compiled_parts`):

- ``system.model``, the sequence model. Its recurrent layers run eagerly inside the compiled
  forward (Dynamo does not trace ``nn.LSTM`` / ``nn.GRU`` / ``nn.RNN`` and breaks the graph
  around them, so cuDNN's kernels stay); the layers before and after them are compiled.
- the CNN (``backbone``) of each :class:`~avseq.models.encoders.FrameEncoder` in
  ``system.encoder``. The encoder's own forward, which picks the valid frames by a boolean
  mask, stays eager: the number of frames the mask selects changes with every batch, and a
  compiled forward would recompile for each count until Dynamo's limit.

The modules themselves are untouched (the compiled forward is an attribute of the instance,
not a wrapper module), so ``state_dict`` keys, checkpoints and bundles are those of an eager run.

Backends (:data:`COMPILE_BACKENDS`): ``inductor`` generates kernels (a C++ compiler on the
CPU, Triton on CUDA); ``aot_eager`` traces forward and backward without generating code and
``eager`` only captures the graphs: both check the wiring, neither is faster. Inductor draws
dropout masks from its own generator, not torch's, so with dropout a compiled run's losses follow
an eager run's in distribution, not to the bit (``tools/bench_train_precision.py`` on
``sound_synth``: 1e-3 apart on a loss near 0.8 with dropout 0.1, 2e-5 with none); ``aot_eager``
and ``eager`` keep torch's generator.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any, Literal, get_args

import torch
from torch import nn

from avseq.errors import ConfigError
from avseq.models.encoders import FrameEncoder

CompileBackend = Literal["inductor", "aot_eager", "eager"]
COMPILE_BACKENDS: tuple[str, ...] = get_args(CompileBackend)


def check_backend(backend: str, device: torch.device) -> None:
    """Refuse, before any work, a backend that cannot run here: an unknown name, or inductor on
    the CPU without the C++ compiler it calls (``$CXX``, else ``g++``)."""
    if backend not in COMPILE_BACKENDS:
        choices = ", ".join(COMPILE_BACKENDS)
        raise ConfigError(f"Invalid train.compile_backend {backend!r}. Supported: {choices}")
    if backend != "inductor" or device.type != "cpu":
        return
    compiler = os.environ.get("CXX") or "g++"
    if shutil.which(compiler) is None:
        raise ConfigError(
            f"train.compile with the inductor backend on the CPU needs a C++ compiler, and {compiler!r} "
            "is not on PATH: install one (g++, or set CXX), set train.compile_backend=aot_eager "
            "(no speed-up: checks the wiring), or train.compile=false"
        )


class TrainingForward:
    """A module's forward that is compiled while the module trains and eager otherwise.

    Set as the instance's ``forward`` by :func:`compile_for_training`; ``eager`` is the module's
    own bound ``forward``, ``compiled`` that method through ``torch.compile(backend=...)``.
    """

    def __init__(self, module: nn.Module, backend: str) -> None:
        self.module = module
        self.eager: Callable[..., Any] = module.forward
        self.compiled: Callable[..., Any] = torch.compile(self.eager, backend=backend)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.module.training and torch.is_grad_enabled() and _learns(self.module):
            return self.compiled(*args, **kwargs)
        return self.eager(*args, **kwargs)


def _learns(module: nn.Module) -> bool:
    return any(p.requires_grad for p in module.parameters())


def compiled_parts(system: nn.Module) -> list[nn.Module]:
    """What :func:`compile_for_training` compiles: ``system.model`` and the encoder's CNNs."""
    backbones = [m.backbone for m in system.encoder.modules() if isinstance(m, FrameEncoder)]
    return [system.model, *backbones]


def compile_for_training(system: nn.Module, backend: str = "inductor") -> None:
    """Compile the training forward of :func:`compiled_parts` in place (see the module
    docstring); calling it again changes nothing."""
    for part in compiled_parts(system):
        if not is_compiled(part):
            part.forward = TrainingForward(part, backend)


def is_compiled(module: nn.Module) -> bool:
    """Whether :func:`compile_for_training` gave ``module`` its compiled training forward."""
    return isinstance(module.__dict__.get("forward"), TrainingForward)
