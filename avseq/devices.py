"""The one device rule: a device name from a config or a flag -> a ``torch.device``.

Pipelines (``device``, ``stages.<id>.device``), training (``train.device``) and
``avseq eval --device`` all resolve their setting here; an error names the option the
user set, which the caller passes in.
"""

from __future__ import annotations

import torch

from avseq.errors import ConfigError

DEVICES = "auto, cpu, cuda, cuda:N, mps"


def resolve_device(name: str, option: str = "device") -> torch.device:
    """``auto`` -> cuda when available, else cpu; any other name must be a torch device.

    option: the setting ``name`` came from (``train.device``, ``--device``), named in the
    ConfigError for a malformed name or for CUDA asked for where there is none.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"{option} {name!r} is not a device; use one of {DEVICES}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{option} {name!r} asks for CUDA, which is not available here; use cpu or auto")
    return device
