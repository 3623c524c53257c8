"""Frame encoders: a CNN applied to every valid frame, (B, T, 3, H, W) -> (B, T, D).

Encoders own the input normalization their weights expect (``mean``/``std`` buffers,
saved with the weights), run the CNN over valid frames only, ``chunk_size`` frames at
a time, and leave padded positions zero. Backbones are registered in ``ENCODERS``;
``build_encoder`` turns a name plus plain options into a :class:`FrameEncoder`.

With ``motion=True`` the CNN also sees each frame's difference from the previous frame
of its clip (a motion stream, as in two-stream video networks): 6 input channels, zero
difference on a clip's first frame. What moved between frames stands out, however thin
it is in any one frame (what it gained on the synthetic world is in configs/README.md).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from avseq.errors import ConfigError
from avseq.models.rnn import check_lengths, length_mask
from avseq.models.weights import is_local_path, load_into, read_state_dict, torchvision_state_dict
from avseq.registry import Registry

SYSTEM_ENCODER = "encoder."  # where a system's state dict keeps its frame encoder
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class FrameEncoder(nn.Module):
    """Wraps an image backbone ``(N, 3, H, W) -> (N, D)`` into a per-frame sequence encoder.

    Args:
        backbone: the CNN, fed normalized images.
        out_dim: D, the backbone's feature size.
        mean, std: per-channel normalization applied to frames in [0, 1].
        chunk_size: frames per backbone call, so long clips never need all activations at once.
        frozen: no gradients for the backbone, and its BatchNorm stays in eval mode.
        motion: feed the backbone 6 channels, the normalized frame and its difference from the
            previous frame of the clip (divided by ``std``); the backbone must take 6 channels.
        frame_stride: encode every ``frame_stride``-th frame of a clip (0, k, 2k, ...) and hold
            its features over the frames up to the next one: a slow stream, for what does not
            change within a clip (colour, shape), at a fraction of the cost.
    """

    def __init__(
        self,
        backbone: nn.Module,
        out_dim: int,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        *,
        chunk_size: int = 64,
        frozen: bool = False,
        motion: bool = False,
        frame_stride: int = 1,
    ) -> None:
        super().__init__()
        if chunk_size < 1:
            raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
        if frame_stride < 1:
            raise ConfigError(f"frame_stride must be >= 1, got {frame_stride}")
        if motion and frame_stride > 1:
            raise ConfigError("motion needs every frame: use frame_stride 1 with motion")
        self.backbone, self.out_dim, self.chunk_size = backbone, out_dim, chunk_size
        self.motion, self.frame_stride = motion, frame_stride
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.frozen = False
        if frozen:
            self.freeze()

    def freeze(self) -> None:
        """Stop gradients into the backbone and keep its BatchNorm statistics fixed."""
        self.frozen = True
        self.backbone.requires_grad_(False)
        self.backbone.eval()

    def train(self, mode: bool = True) -> FrameEncoder:
        super().train(mode)
        if self.frozen:
            self.backbone.eval()
        return self

    def encode_images(self, images: torch.Tensor, starts: torch.Tensor | None = None) -> torch.Tensor:
        """images (N, 3, H, W) float in [0, 1] -> features (N, D), ``chunk_size`` at a time.

        starts (N,) bool, for a motion encoder: True where an image begins a clip, the others
        following the image before them in time. Default: every image begins one (no motion).
        """
        previous = torch.arange(images.shape[0], device=images.device)
        if starts is not None:
            previous = torch.where(starts.to(images.device), previous, previous - 1)
        chunks = []
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            for first in range(0, images.shape[0], self.chunk_size):
                chunk = images[first : first + self.chunk_size]
                x = (chunk - self.mean) / self.std
                if self.motion:
                    before = images[previous[first : first + self.chunk_size]]
                    x = torch.cat([x, (chunk - before) / self.std], 1)
                chunks.append(self.backbone(x))
        return torch.cat(chunks) if chunks else images.new_zeros((0, self.out_dim))

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """frames (B, T, 3, H, W) float in [0, 1], lengths (B,) -> features (B, T, D), zero when padded."""
        if frames.dim() != 5 or frames.shape[2] != 3:
            raise ValueError(f"frames must be (B, T, 3, H, W), got {tuple(frames.shape)}")
        if not frames.dtype.is_floating_point:
            raise ValueError(
                f"frames must be float in [0, 1], got {frames.dtype} (convert with to_float first)"
            )
        check_lengths(lengths, frames.shape[1])
        mask = length_mask(lengths.to(frames.device), frames.shape[1])
        steps = torch.arange(frames.shape[1], device=frames.device)
        held = steps // self.frame_stride * self.frame_stride  # the encoded frame each frame takes
        encoded = mask & (held == steps)
        starts = torch.zeros_like(mask)
        starts[:, 0] = True
        feats = self.encode_images(frames[encoded], starts[encoded])
        out = feats.new_zeros((*mask.shape, self.out_dim)).masked_scatter(encoded[..., None], feats)
        if self.frame_stride > 1:  # each frame takes the features of the last encoded one
            out = out[:, held] * mask[..., None]
        return out


class ConcatEncoder(nn.Module):
    """Several frame encoders over the same frames, their features concatenated: (B, T, sum of D).

    How captioning systems combine streams that each see what the other misses (appearance
    and motion, a trained CNN and a pretrained one). Each member keeps its own weights,
    normalization and ``frozen`` state; ``frozen`` is True only when every member is.
    """

    def __init__(self, encoders: Sequence[FrameEncoder]) -> None:
        super().__init__()
        if not encoders:
            raise ConfigError("a concatenated encoder needs at least one member")
        self.members = nn.ModuleList(encoders)
        self.out_dim = sum(e.out_dim for e in encoders)
        # members built frozen stay so for the whole run, so their features can be cached
        # (see forward); freezing the rest later does not change which these are
        self.fixed = tuple(i for i, e in enumerate(encoders) if e.frozen)

    @property
    def frozen(self) -> bool:
        return all(e.frozen for e in self.members)

    def freeze(self) -> None:
        """Freeze every member (see :meth:`FrameEncoder.freeze`)."""
        for e in self.members:
            e.freeze()

    @property
    def partly_frozen(self) -> bool:
        """Some members were built frozen and the others train: the frozen ones' features can
        be cached (:meth:`frozen_part`)."""
        return 0 < len(self.fixed) < len(self.members) and not self.frozen

    def frozen_part(self) -> ConcatEncoder:
        """The members built frozen (the same modules), in order: what ``cached`` holds in :meth:`forward`."""
        return ConcatEncoder([self.members[i] for i in self.fixed])

    def forward(
        self, frames: torch.Tensor, lengths: torch.Tensor, cached: torch.Tensor | None = None
    ) -> torch.Tensor:
        """frames (B, T, 3, H, W), lengths (B,) -> (B, T, sum of D). cached: (B, T, D) features of
        the members built frozen, by :meth:`frozen_part`: only the other members run their CNN."""
        if cached is None:
            return torch.cat([e(frames, lengths) for e in self.members], -1)
        fixed_dim = sum(self.members[i].out_dim for i in self.fixed)
        if cached.shape[-1] != fixed_dim:
            raise ValueError(
                f"cached features have {cached.shape[-1]} channels; the frozen members give {fixed_dim}"
            )
        parts, start = [], 0
        for i, e in enumerate(self.members):
            if i in self.fixed:
                parts.append(cached[..., start : start + e.out_dim].to(frames.dtype))
                start += e.out_dim
            else:
                parts.append(e(frames, lengths))
        return torch.cat(parts, -1)


@dataclass(frozen=True)
class EncoderSpec:
    """How to build one registered backbone.

    build: ``(**options) -> (backbone, out_dim)`` with the classifier removed.
    head_prefixes: state-dict prefixes of the removed classifier (dropped when loading).
    torchvision_arch: the torchvision model name for named weights, or None.
    """

    build: Callable[..., tuple[nn.Module, int]]
    head_prefixes: tuple[str, ...] = ()
    torchvision_arch: str | None = None
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD


ENCODERS: Registry[EncoderSpec] = Registry("frame encoder")


def _torchvision_backbone(arch: str, head: str) -> Callable[[], tuple[nn.Module, int]]:
    def build() -> tuple[nn.Module, int]:
        from torchvision.models import get_model

        model = get_model(arch, weights=None)
        linear = next(m for m in getattr(model, head).modules() if isinstance(m, nn.Linear))
        setattr(model, head, nn.Identity())
        return model, linear.in_features

    return build


for _arch, _head in [
    ("resnet18", "fc"),
    ("resnet50", "fc"),
    ("mobilenet_v3_small", "classifier"),
    ("efficientnet_b0", "classifier"),
]:
    ENCODERS.register(_arch)(EncoderSpec(_torchvision_backbone(_arch, _head), (f"{_head}.",), _arch))


Pool = Literal["avg", "grid"]
POOL_CHOICES = ("avg", "grid")


class CompactCNN(nn.Module):
    """A small CNN for 64-128 px frames: ``depth`` stride-2 conv blocks, pooling, a linear map.

    images (N, 3, H, W) -> (N, out_dim). Channels double per block from ``width`` (capped at 8x).
    ``pool="avg"`` averages the final map over space (where things are is lost);
    ``pool="grid"`` averages it onto a ``grid x grid`` map and flattens that, so the features
    keep where objects are (a contact with the floor or a wall). ``stem_width``: 0, or the
    channels of one stride-1 conv block at full resolution before the strided ones, so small
    objects (a few pixels across) are seen before the first halving. ``in_channels``: 3, or 6
    for a motion encoder (set by ``build_encoder(..., motion=True)``).
    """

    def __init__(
        self,
        out_dim: int = 128,
        width: int = 32,
        depth: int = 4,
        pool: Pool = "avg",
        grid: int = 4,
        stem_width: int = 0,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        if pool not in POOL_CHOICES:
            raise ConfigError(f"Invalid pool {pool!r}. Supported: {', '.join(POOL_CHOICES)}")
        if grid < 1:
            raise ConfigError(f"grid must be >= 1, got {grid}")
        if stem_width < 0:
            raise ConfigError(f"stem_width must be >= 0, got {stem_width}")
        blocks = [(stem_width, 1)] if stem_width else []
        blocks += [(width * 2 ** min(i, 3), 2) for i in range(depth)]
        layers: list[nn.Module] = []
        c_in = in_channels
        for c_out, stride in blocks:
            layers += [
                nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.pool, self.grid = pool, grid
        self.proj = nn.Linear(c_in * (grid * grid if pool == "grid" else 1), out_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # channels-last convolutions: faster on CPU (the README's figures table has by how much)
        x = self.features(images.contiguous(memory_format=torch.channels_last))
        if self.pool == "grid":
            return self.proj(nn.functional.adaptive_avg_pool2d(x, self.grid).flatten(1))
        return self.proj(x.mean((2, 3)))


def _compact(**options: Any) -> tuple[nn.Module, int]:
    cnn = CompactCNN(**options)
    return cnn, cnn.proj.out_features


_compact.__signature__ = inspect.signature(CompactCNN)  # its options, for _check_options and motion


ENCODERS.register("compact")(EncoderSpec(_compact, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)))


def build_encoder(
    name: str,
    *,
    weights: str | None = None,
    frozen: bool = False,
    chunk_size: int = 64,
    motion: bool = False,
    frame_stride: int = 1,
    **kwargs,
) -> FrameEncoder:
    """Build the registered encoder ``name``.

    Args:
        weights: None (random init); "DEFAULT" or a torchvision weights name such as
            "IMAGENET1K_V1" (torchvision backbones only; read from the torch hub cache, never downloaded);
            or a local safetensors / ``torch.save`` state dict of the backbone (classifier
            keys are ignored), of a whole FrameEncoder (with its mean/std), or of a whole
            system such as a bundle's ``weights.safetensors`` (its ``encoder.`` entries).
        frozen: freeze the backbone (no gradients, BatchNorm in eval mode).
        chunk_size: frames per CNN call.
        motion: also feed each frame's difference from the previous one (see
            :class:`FrameEncoder`); needs a backbone built with ``in_channels`` (``compact``).
        frame_stride: encode every k-th frame and hold its features (see :class:`FrameEncoder`).
        **kwargs: backbone options (``compact``: out_dim, width, depth, pool, grid, stem_width).
    """
    spec = ENCODERS.get(name)  # an unknown name raises the registry's ConfigError
    _check_options(name, spec.build, kwargs)
    if motion:
        if "in_channels" not in inspect.signature(spec.build).parameters:
            raise ConfigError(f"frame encoder {name!r} takes 3 channels only, so motion needs 'compact'")
        kwargs["in_channels"] = 6
    backbone, out_dim = spec.build(**kwargs)
    mean, std = spec.mean, spec.std
    whole_state = None
    if weights is not None and is_local_path(weights):
        state = read_state_dict(weights)
        if any(k.startswith(SYSTEM_ENCODER) for k in state):  # a whole system's weights (a bundle's)
            state = {
                k.removeprefix(SYSTEM_ENCODER): v for k, v in state.items() if k.startswith(SYSTEM_ENCODER)
            }
        if any(k.startswith("backbone.") for k in state):
            whole_state = state
        else:
            load_into(backbone, _drop_head(state, spec.head_prefixes), weights)
    elif weights is not None:
        if spec.torchvision_arch is None:
            raise ConfigError(
                f"frame encoder {name!r} has no named weights {weights!r}; use None or a file path"
            )
        state, mean, std = torchvision_state_dict(spec.torchvision_arch, weights)
        load_into(backbone, _drop_head(state, spec.head_prefixes), f"{name}/{weights}")
    encoder = FrameEncoder(
        backbone, out_dim, mean, std, chunk_size=chunk_size, motion=motion, frame_stride=frame_stride
    )
    if whole_state is not None:
        load_into(encoder, whole_state, str(weights))
    if frozen:
        encoder.freeze()
    return encoder


def _check_options(name: str, build: Callable, options: dict) -> None:
    names = [p for p in inspect.signature(build).parameters if p != "in_channels"]  # set by motion
    allowed = ", ".join(names) or "(none)"
    for key in options:
        if key not in names:
            raise ConfigError(f"Unknown option {key!r} for frame encoder {name!r}. Supported: {allowed}")


def _drop_head(state: dict[str, torch.Tensor], prefixes: tuple[str, ...]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if not k.startswith(prefixes)} if prefixes else state
