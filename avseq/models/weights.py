"""Loading encoder weights: torchvision's own weights (through the torch hub cache) or local files.

Local files are safetensors or a plain state dict read with ``torch.load(weights_only=True)``;
nothing is ever unpickled beyond tensors.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from avseq.errors import BundleError, ConfigError


def is_local_path(weights: str) -> bool:
    """True when ``weights`` names a file rather than a torchvision weights name."""
    return (
        os.sep in weights
        or weights.endswith((".safetensors", ".pt", ".pth", ".bin"))
        or Path(weights).exists()
    )


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a local weights file (safetensors, or a state dict saved by ``torch.save``)."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"weights file {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any reader failure means an unreadable file
        raise BundleError(f"cannot read weights file {path}: {type(err).__name__}: {err}") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BundleError(f"weights file {path} does not hold a state dict of tensors")
    return state


def torchvision_state_dict(arch: str, name: str) -> tuple[dict[str, torch.Tensor], list[float], list[float]]:
    """State dict, mean and std of torchvision weights ``name``, read from the torch hub cache.

    ``name``: "DEFAULT", a member such as "IMAGENET1K_V1", or the full "ResNet18_Weights.IMAGENET1K_V1".

    Never downloads: the file must already be in the cache (:func:`torchvision_cache_path`,
    ``$TORCH_HOME/hub/checkpoints/<file>``); when it is not, raises BundleError naming that
    path and the URL to fetch it from.
    """
    weights = _torchvision_weights(arch, name)
    path = torchvision_cache_path(arch, name)
    if not path.is_file():
        raise BundleError(
            f"{arch} weights {weights} are not in the torch hub cache: expected {path}. "
            f"Download {weights.url} there (avseq never downloads while training or running), "
            "or give the encoder's weights as a local file path"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any reader failure means an unreadable file
        raise BundleError(
            f"cached {arch} weights at {path} are unreadable ({type(err).__name__}: {err}); delete it"
        ) from None
    transforms = weights.transforms()
    return state, list(transforms.mean), list(transforms.std)


def torchvision_cache_path(arch: str, name: str) -> Path:
    """Where torchvision weights ``name`` of ``arch`` are expected in the torch hub cache
    (``torch.hub.get_dir()``, i.e. ``$TORCH_HOME/hub``, then ``checkpoints/<file of the URL>``)."""
    weights = _torchvision_weights(arch, name)
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights.url).path)


def _torchvision_weights(arch: str, name: str):
    from torchvision.models import get_model_weights

    enum = get_model_weights(arch)
    try:
        return enum[name.removeprefix(f"{enum.__name__}.")]
    except KeyError:
        choices = ", ".join(["DEFAULT", *enum.__members__])
        raise ConfigError(
            f"Unknown weights {name!r} for {arch}. Supported: {choices}, or a file path"
        ) from None


def load_into(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """``module.load_state_dict(state)`` with a one-line BundleError naming mismatched keys."""
    missing, unexpected = _diff(module.state_dict(), state)
    if missing or unexpected:
        raise BundleError(
            f"weights {source} do not fit {type(module).__name__}: "
            f"missing {missing[:3]}{'...' if len(missing) > 3 else ''}, "
            f"unexpected {unexpected[:3]}{'...' if len(unexpected) > 3 else ''}"
        )
    try:
        module.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[-1].strip()
        raise BundleError(f"weights {source} do not fit {type(module).__name__}: {first}") from None


def _diff(expected: dict, given: dict) -> tuple[list[str], list[str]]:
    return sorted(set(expected) - set(given)), sorted(set(given) - set(expected))
