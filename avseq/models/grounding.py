"""A frame encoder that finds the acting object and describes it: where, then what.

On a scene with several objects, a CNN over the whole frame learns what the clip's labels are
about only if it can tell which object they name; with a few hundred examples it memorizes them
instead (configs/README.md, "Where the wall is"). :class:`GroundedEncoder` splits the two jobs:

- a *locator* looks at each frame, its change from the frame before, and how much every pixel
  changes over the frames around it (``window`` on each side), optionally mixes what it found
  in each cell with the same cell on frames further away (``temporal``), and scores every cell of
  :data:`STRIDE` pixels for holding the acting object;
- a *namer* CNN describes a ``crop`` pixels square window centred on the best cell: its
  features are the encoder's features for that frame.

Training can tell the locator where the object is: inside :meth:`GroundedEncoder.supervised`,
the encoder takes the true positions (fractions of the frame's width and height, as
:attr:`avseq.data.manifest.Event.track` gives them), crops there, and records the locator's
cross-entropy against them. Everywhere else (validation, evaluation, pipelines, feature caches)
it crops where the locator looks, so the features are those of a frame encoder like any other,
``(B, T, 3, H, W) -> (B, T, D)``, and it can be a member of a concatenated encoder.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from avseq.errors import ConfigError
from avseq.models.rnn import check_lengths, length_mask
from avseq.models.weights import is_local_path, load_into, read_state_dict

GROUNDED = "grounded"  # its name in a system config's encoder list
MEAN, STD = 0.5, 0.25  # frames in [0, 1] are fed as (x - MEAN) / STD
STRIDE = 4  # pixels per locator cell: it works at half resolution, then halves once more


def _block(c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, 3, stride, dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


@dataclass
class Located:
    """What a supervised pass recorded: the locator's mean cross-entropy over the frames whose
    true position is in view (``loss``, a scalar tensor; zero when none is) and how many there were."""

    loss: torch.Tensor | None = None
    frames: int = 0


class GroundedEncoder(nn.Module):
    """frames (B, T, 3, H, W) in [0, 1], lengths (B,) -> (B, T, out_dim): per frame, the namer's
    features of a window centred where the locator puts the acting object.

    Args:
        out_dim: features per frame.
        crop: side of the window the namer sees (pixels of the frames it is given).
        window: frames on each side whose change the locator sees beside the frame's own.
        width: channels of the namer's first block (it doubles twice).
        locator_width: channels of the locator's first block (doubled after it); the locator sees
            every frame whole, so it is most of the encoder's cost.
        temporal: layers after the locator's convolutions that mix each cell's features with the
            same cell's on the frames ``2**k`` steps before and after (k = 0, 1, ...: 3 layers see
            7 frames on each side), so that it can follow which object has been moving. They keep
            the locator's features of every frame of a clip (2/3 of the frames' own size) where
            without them it keeps one score per cell.
        chunk_size: frames the locator and the namer take at a time, which bounds the memory of
            their activations whatever the clip's length.
        frozen: no gradients, BatchNorm in eval mode (see :meth:`freeze`).
    """

    def __init__(
        self,
        out_dim: int = 128,
        crop: int = 20,
        window: int = 2,
        width: int = 32,
        locator_width: int = 16,
        temporal: int = 0,
        chunk_size: int = 256,
        frozen: bool = False,
    ) -> None:
        super().__init__()
        for name, value, low in (
            ("out_dim", out_dim, 1),
            ("crop", crop, 4),
            ("window", window, 0),
            ("width", width, 4),
            ("locator_width", locator_width, 4),
            ("temporal", temporal, 0),
            ("chunk_size", chunk_size, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"grounded encoder: {name} must be an integer >= {low}, got {value!r}")
        self.out_dim, self.crop, self.window = out_dim, crop, window
        self.chunk_size = chunk_size
        self.locator = nn.Sequential(
            nn.AvgPool2d(2),
            *_block(8 + 2 * window, locator_width),
            *_block(locator_width, 2 * locator_width, stride=2),
            *_block(2 * locator_width, 2 * locator_width, dilation=2),
            *_block(2 * locator_width, 2 * locator_width, dilation=4),
            nn.Conv2d(2 * locator_width, 1, 1),
        )
        self.temporal = nn.ModuleList(TemporalMix(2 * locator_width, 2**k) for k in range(temporal))
        self.namer = nn.Sequential(
            *_block(3, width),
            *_block(width, 2 * width, stride=2),
            *_block(2 * width, 2 * width, stride=2),
            *_block(2 * width, 4 * width, stride=2),
        )
        self.proj = nn.Linear(4 * width, out_dim)
        self._truth: torch.Tensor | None = None
        self._located: Located | None = None
        self.frozen = False
        if frozen:
            self.freeze()

    def freeze(self) -> None:
        """Stop gradients and keep BatchNorm statistics fixed (as :meth:`FrameEncoder.freeze`)."""
        self.frozen = True
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> GroundedEncoder:
        return super().train(mode and not self.frozen)

    @contextmanager
    def supervised(self, positions: torch.Tensor) -> Iterator[Located]:
        """Within the block, forward crops at ``positions`` (B, T, 2), the acting object's centre
        (x, y) as fractions of the frame's width and height (NaN where unknown: the locator's
        choice is used), and records the locator's loss against them in the yielded :class:`Located`."""
        self._truth, self._located = positions, Located()
        try:
            yield self._located
        finally:
            self._truth, self._located = None, None

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if frames.dim() != 5 or frames.shape[2] != 3 or not frames.dtype.is_floating_point:
            raise ValueError(
                f"frames must be float (B, T, 3, H, W), got {tuple(frames.shape)} {frames.dtype}"
            )
        check_lengths(lengths, frames.shape[1])
        mask = length_mask(lengths.to(frames.device), frames.shape[1])
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            logits = self.locate(frames, mask)  # (N, rows, cols) for the valid frames
            centres = self.centres(logits)
            if self._truth is not None:
                centres = self._supervise(logits, centres, mask, frames.shape[-2:])
            clip, step = mask.nonzero(as_tuple=True)
            parts = self._chunks(len(clip))
            feats = torch.cat([self._describe(frames[clip[p], step[p]], centres[p]) for p in parts])
        return feats.new_zeros((*mask.shape, self.out_dim)).masked_scatter(mask[..., None], feats)

    def _describe(self, frames: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
        """Frames (n, 3, H, W) in [0, 1], centres (n, 2) -> the namer's features (n, out_dim)."""
        return self.proj(self.namer(crops(_normal(frames), centres, self.crop)).amax((2, 3)))

    def _chunks(self, n: int) -> list[slice]:
        return [slice(first, first + self.chunk_size) for first in range(0, n, self.chunk_size)]

    def locate(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Frames (B, T, 3, H, W) in [0, 1], valid mask (B, T) -> cell logits (N, H / 4, W / 4) of
        the N valid frames, in order. Nothing the size of the frames is made for the whole clip:
        only each frame's change energy (one channel), then ``chunk_size`` frames at a time (and,
        with ``temporal`` layers, the locator's features of every step: 2/3 of the frames' size)."""
        clip, step = mask.nonzero(as_tuple=True)
        before = (step - 1).clamp(min=0)  # a clip's first frame: itself, so its change is zero
        energy = frames.new_zeros((frames.shape[0], frames.shape[1] + 2 * self.window, *frames.shape[-2:]))
        parts = self._chunks(len(clip))
        for part in parts:
            change = frames[clip[part], step[part]] - frames[clip[part], before[part]]
            energy[clip[part], step[part] + self.window] = change.abs().mean(1) / STD
        body, head = self.locator[:-1], self.locator[-1]
        out, grid = [], None
        for part in parts:  # each chunk's change again: cheaper than keeping every frame's
            b, t = clip[part], step[part]
            around = torch.stack([energy[b, t + k] for k in range(2 * self.window + 1)], 1)
            now, change = frames[b, t], (frames[b, t] - frames[b, before[part]]) / STD
            inputs = torch.cat([_normal(now), change, around, around.mean(1, keepdim=True)], 1)
            found = body(inputs.contiguous(memory_format=torch.channels_last))
            if not len(self.temporal):
                out.append(head(found)[:, 0])
            else:  # the temporal layers need every frame's features, in clip order
                grid = found.new_zeros((*mask.shape, *found.shape[1:])) if grid is None else grid
                grid[b, t] = found
        return torch.cat(out) if grid is None else self._mix_in_time(grid, mask)

    def _mix_in_time(self, grid: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The locator's features of each clip's steps (B, T, C, h, w), zeros past its end, through
        the ``temporal`` layers and the locator's last convolution -> the valid frames' cell logits
        (N, h, w). A slice of the steps at a time, with the steps around it that its first ones see."""
        b, t = mask.shape
        grid, keep = grid.transpose(1, 2), mask[:, None, :, None, None].to(grid.dtype)  # (B, C, T, h, w)
        reach = sum(layer.step for layer in self.temporal)  # steps each side that a step's result sees
        span = max(1, self.chunk_size // b)
        out = []
        for first in range(0, t, span):
            low, high = max(0, first - reach), min(t, first + span + reach)
            part = grid[:, :, low:high]
            for layer in self.temporal:  # padding stays zero: each clip ends where its frames do
                part = layer(part) * keep[:, :, low:high]
            part = part[:, :, first - low : first - low + span].transpose(1, 2)  # (B, span, C, h, w)
            out.append(self.locator[-1](part.flatten(0, 1)).view(*part.shape[:2], *part.shape[-2:]))
        return torch.cat(out, 1)[mask]

    def centres(self, logits: torch.Tensor) -> torch.Tensor:
        """(N, rows, cols) -> (N, 2) the best cell's centre (x, y) in pixels."""
        cols = logits.shape[-1]
        best = logits.flatten(1).argmax(1)
        return torch.stack([best % cols, best // cols], 1).to(logits.dtype).add(0.5).mul(STRIDE)

    def _supervise(
        self, logits: torch.Tensor, centres: torch.Tensor, mask: torch.Tensor, size: torch.Size
    ) -> torch.Tensor:
        """Record the locator's loss against the true positions; the centres to crop at (the true
        ones where known)."""
        h, w = size
        truth = self._truth.to(logits.device, torch.float32)[:, : mask.shape[1]][mask]  # (N, 2) fractions
        known = torch.isfinite(truth).all(1)
        pixels = truth * torch.tensor([w, h], device=truth.device, dtype=truth.dtype)
        centres = torch.where(known[:, None], pixels, centres)
        rows, cols = logits.shape[-2:]
        cell = (pixels / STRIDE).floor().nan_to_num(-1).long()
        seen = known & (cell[:, 0] >= 0) & (cell[:, 0] < cols) & (cell[:, 1] >= 0) & (cell[:, 1] < rows)
        if seen.any():
            target = cell[seen, 1] * cols + cell[seen, 0]
            self._located.loss = nn.functional.cross_entropy(logits[seen].flatten(1).float(), target)
            self._located.frames = int(seen.sum())
        else:
            self._located.loss = logits.sum() * 0.0
        return centres


class TemporalMix(nn.Module):
    """One temporal layer of the locator: features (B, C, T, h, w) plus a convolution over each
    cell's features on the frames ``step`` before, itself and ``step`` after."""

    def __init__(self, channels: int, step: int) -> None:
        super().__init__()
        self.step = step
        self.mix = nn.Conv3d(
            channels, channels, (3, 1, 1), padding=(step, 0, 0), dilation=(step, 1, 1), bias=False
        )
        self.norm = nn.BatchNorm3d(channels)

    def forward(self, found: torch.Tensor) -> torch.Tensor:
        return found + torch.relu(self.norm(self.mix(found)))


def load_weights(encoder: GroundedEncoder, path: str) -> None:
    """Load into ``encoder`` the grounded encoder held by the weights file ``path``: one saved alone,
    or a whole system's (a bundle's ``weights.safetensors``) whose encoder, or one member of whose
    encoder list, is grounded. ConfigError when the file holds none or several."""
    if not is_local_path(path):
        raise ConfigError(f"encoder {GROUNDED!r}: weights must be a weights file or a bundle, got {path!r}")
    state = read_state_dict(path)
    mark = "locator.1.weight"  # the locator's first convolution: every grounded encoder has it
    prefixes = sorted(k.removesuffix(mark) for k in state if k.endswith(mark))
    if len(prefixes) != 1:
        found = "none" if not prefixes else f"{len(prefixes)} ({', '.join(p or '(top)' for p in prefixes)})"
        raise ConfigError(
            f"encoder {GROUNDED!r}: weights {path} must hold one grounded encoder, found {found}"
        )
    prefix = prefixes[0]
    load_into(encoder, {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}, path)


def _normal(frames: torch.Tensor) -> torch.Tensor:
    return (frames - MEAN) / STD


def crops(images: torch.Tensor, centres: torch.Tensor, size: int) -> torch.Tensor:
    """images (N, C, H, W), centres (N, 2) (x, y) in pixels -> (N, C, size, size) windows centred
    there, zero outside the image."""
    n, c, h, w = images.shape
    padded = nn.functional.pad(images, (size, size, size, size))
    start = (centres.floor().long() - size // 2 + size).clamp(0, None)  # its pixel at index size // 2
    x0 = start[:, 0].clamp(max=w + size)
    y0 = start[:, 1].clamp(max=h + size)
    offsets = torch.arange(size, device=images.device)
    ys, xs = (y0[:, None] + offsets), (x0[:, None] + offsets)
    idx = torch.arange(n, device=images.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[idx, ys[:, :, None], xs[:, None, :]].permute(0, 3, 1, 2)
