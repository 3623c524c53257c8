"""Aligned many-to-many sound model: frame features at the video rate -> log-mel at the mel rate.

The video and mel frame rates need not have an integer ratio: each clip's mel length
follows from its duration, ``round(lengths / video_fps * mel_frame_rate)``, unless the
caller passes ``out_lengths`` (training does, to match the target exactly). The time
axis is resampled by linear interpolation between video frames: mel frame ``j`` sits
at ``j / mel_frame_rate`` seconds (an STFT with ``center=True``) and video frame ``k``
covers ``[k / fps, (k + 1) / fps)``, so its centre is ``(k + 0.5) / fps``.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from avseq.models.onset_shaping import GAP_SECONDS, called_starts, shape_log_mel
from avseq.models.rnn import Cell, MaskedRNN, check_lengths, length_mask

Upsample = Literal["input", "output"]
UPSAMPLE_CHOICES = ("input", "output")
Interpolation = Literal["linear", "hold"]
INTERPOLATION_CHOICES = ("linear", "hold")
# Outputs below ``floor + QUIET_MARGIN`` (log-mel units) count as "at the floor". Measured with the
# synth-sound weights on the 64 validation clips (LSD of the vocoded audio; mean-mel 31.35 dB):
# margin 0.1 -> 31.78 dB, 0.3 -> 30.93 (onset F1 1.0), 0.6 -> 30.88 (0.996), 1.0 -> 31.22; at 2.0
# quiet impacts vanish (onset F1 0.64 on test clips).
QUIET_MARGIN = 0.3


def mel_lengths(lengths: torch.Tensor, video_fps: float, mel_frame_rate: float) -> torch.Tensor:
    """Mel frames covering each clip: ``floor(lengths / video_fps * mel_frame_rate + 0.5)``, >= 1.

    lengths: (B,) video frames -> (B,) int64 mel frames.
    """
    return torch.floor(lengths.double() / video_fps * mel_frame_rate + 0.5).long().clamp_min(1)


def resample_time(
    x: torch.Tensor,
    lengths: torch.Tensor,
    out_lengths: torch.Tensor,
    video_fps: float,
    mel_frame_rate: float,
    mode: Interpolation = "linear",
) -> torch.Tensor:
    """Put each clip's valid steps onto the mel time grid.

    x: (B, T, C) at ``video_fps`` with ``lengths`` (B,) valid steps ->
    (B, T'max, C) at ``mel_frame_rate``, zero beyond ``out_lengths`` (B,).
    ``mode="linear"`` interpolates between frame centres; ``"hold"`` gives mel frame ``j``
    the value of the video frame whose interval ``[k / fps, (k + 1) / fps)`` holds
    ``j / mel_frame_rate``, so a change (a sound starting) lands exactly on a frame start.
    Only valid input steps contribute (positions are clamped into ``[0, length - 1]``).
    """
    check_interpolation(mode)
    t_out = int(out_lengths.max())
    dev = x.device
    last = (lengths.to(dev) - 1)[:, None]
    times = torch.arange(t_out, device=dev, dtype=torch.float64)[None, :] / mel_frame_rate
    gather = lambda idx: x.gather(1, idx[..., None].expand(-1, -1, x.shape[2]))  # noqa: E731
    if mode == "hold":
        out = gather(torch.minimum((times * video_fps + 1e-9).floor().long(), last))
    else:
        pos = torch.minimum((times * video_fps - 0.5).clamp_min(0.0), last.double())  # (B, T')
        lo = pos.floor().long()
        w = (pos - lo.double()).to(x.dtype)[..., None]
        out = gather(lo) * (1 - w) + gather(torch.minimum(lo + 1, last)) * w
    return out * length_mask(out_lengths.to(dev), t_out)[..., None].to(x.dtype)


def check_interpolation(mode: str) -> None:
    """ValueError naming the choices unless ``mode`` is one of ``INTERPOLATION_CHOICES``."""
    if mode not in INTERPOLATION_CHOICES:
        raise ValueError(f"Invalid interpolation {mode!r}. Supported: {', '.join(INTERPOLATION_CHOICES)}")


class SoundModel(nn.Module):
    """Frame features (B, T, D) at ``video_fps`` -> log-mel (B, n_mels, T') at ``mel_frame_rate``.

    Features are projected to ``hidden_size``; ``upsample="input"`` (default) resamples
    them to the mel rate and runs the stacked RNN there, so it can shape sound between
    video frames; ``"output"`` runs the RNN at the video rate (cheaper) and resamples
    its outputs. A linear head gives ``n_mels`` log-mel values per frame.
    ``interpolation`` is how the video-rate steps reach the mel grid (see
    :func:`resample_time`): ``"hold"`` keeps a sound's start sharp on a frame boundary,
    where ``"linear"`` ramps it over one video frame (and onset pickers see two onsets).

    ``onset_head=True`` adds a linear onset detector on the RNN outputs: one logit per
    RNN step (video frame with ``"output"``, mel frame with ``"input"``) saying whether a
    sound starts there. Training it (``loss.onset_bce``) teaches the RNN when things
    sound, which the log-mel loss alone, dominated by the unpredictable noise floor,
    teaches slowly. ``onset_threshold`` (needs the head) lets it decide where the rendered
    log-mel starts a sound: at the steps whose onset probability peaks at or above it, and
    nowhere else (:mod:`avseq.models.onset_shaping`); without it inference ignores the head.

    ``floor`` (log-mel units) says the model was trained against targets raised to it
    (see :func:`sound_loss`): below it the training audio held whatever background the
    video cannot show, digital silence in one clip, hiss in the next. Outputs within
    ``QUIET_MARGIN`` of the floor are rendered at ``quiet_level``
    (a buffer set by :meth:`init_level`: the per-band mean of the training targets that
    lay below the floor), the best guess for a background the picture does not reveal,
    instead of the floor itself; ``forward(..., raw=True)`` returns the outputs the loss
    compares with the floored targets.
    """

    def __init__(
        self,
        in_dim: int,
        *,
        n_mels: int = 80,
        video_fps: float = 15.0,
        mel_frame_rate: float = 62.5,
        hidden_size: int = 256,
        num_layers: int = 2,
        cell: Cell = "lstm",
        dropout: float = 0.0,
        bidirectional: bool = False,
        upsample: Upsample = "input",
        onset_head: bool = False,
        interpolation: Interpolation = "linear",
        floor: float | None = None,
        onset_threshold: float | None = None,
    ) -> None:
        super().__init__()
        if upsample not in UPSAMPLE_CHOICES:
            raise ValueError(f"Invalid upsample {upsample!r}. Supported: {', '.join(UPSAMPLE_CHOICES)}")
        check_interpolation(interpolation)
        self.interpolation = interpolation
        if video_fps <= 0 or mel_frame_rate <= 0:
            raise ValueError(f"rates must be > 0, got video_fps={video_fps}, mel_frame_rate={mel_frame_rate}")
        self.n_mels, self.video_fps, self.mel_frame_rate = n_mels, video_fps, mel_frame_rate
        self.upsample = upsample
        self.input_proj = nn.Linear(in_dim, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.rnn = MaskedRNN(cell, hidden_size, hidden_size, num_layers, dropout, bidirectional)
        self.head = nn.Linear(self.rnn.out_dim, n_mels)
        self.onset = nn.Linear(self.rnn.out_dim, 1) if onset_head else None
        if onset_threshold is not None and not (onset_head and 0.0 < onset_threshold < 1.0):
            raise ValueError(
                f"onset_threshold must lie in (0, 1) and needs onset_head: true, got {onset_threshold}"
                f" with onset_head {onset_head}"
            )
        self.onset_threshold = onset_threshold
        self.floor = floor
        if floor is not None:
            self.register_buffer("quiet_level", torch.full((n_mels,), float(floor)))

    @torch.no_grad()
    def init_level(self, mean_log_mel: torch.Tensor, quiet_log_mel: torch.Tensor | None = None) -> None:
        """Start the output at the training targets' mean level ``(n_mels,)``; with a
        ``floor``, also set ``quiet_level`` ``(n_mels,)`` (the mean of the targets below it).

        With the default zero bias the first predictions miss every log-mel value by
        its whole level (e.g. -8 in ln units), and those early gradients inflate Adam's
        second-moment estimates for about ``1 / (1 - beta2)`` steps, which stalls the
        shared RNN and encoder while the bias catches up (the onset and log-mel losses
        then barely move in a CPU-sized run).
        """
        if mean_log_mel.shape != self.head.bias.shape:
            raise ValueError(f"mean_log_mel must be ({self.n_mels},), got {tuple(mean_log_mel.shape)}")
        self.head.bias.copy_(mean_log_mel)
        if quiet_log_mel is not None:
            if self.floor is None:
                raise ValueError("quiet_log_mel needs a SoundModel built with a floor")
            if quiet_log_mel.shape != self.quiet_level.shape:
                raise ValueError(f"quiet_log_mel must be ({self.n_mels},), got {tuple(quiet_log_mel.shape)}")
            self.quiet_level.copy_(quiet_log_mel)

    def render_quiet(self, mel: torch.Tensor) -> torch.Tensor:
        """Log-mel (..., n_mels) with every value within ``QUIET_MARGIN`` of the ``floor`` set to
        ``quiet_level`` (unchanged without a floor): how outputs are rendered, and how a target
        the model matched exactly would be."""
        if self.floor is None:
            return mel
        return torch.where(mel < self.floor + QUIET_MARGIN, self.quiet_level.to(mel.dtype), mel)

    @property
    def onset_rate(self) -> float:
        """Steps per second of the onset logits: the video rate, or the mel rate with ``upsample="input"``."""
        return self.video_fps if self.upsample == "output" else self.mel_frame_rate

    def out_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """(B,) video frames -> (B,) mel frames from each clip's duration."""
        return mel_lengths(lengths, self.video_fps, self.mel_frame_rate)

    def forward(
        self,
        features: torch.Tensor,
        lengths: torch.Tensor,
        out_lengths: torch.Tensor | None = None,
        with_onsets: bool = False,
        raw: bool = False,
    ) -> tuple[torch.Tensor, ...]:
        """features (B, T, D), lengths (B,) -> (log-mel (B, n_mels, T'max), out_lengths (B,)).

        Frames beyond each clip's ``out_lengths`` are zero. ``with_onsets`` (needs
        ``onset_head``) appends the onset logits (B, steps) at :attr:`onset_rate`. Unless
        ``raw``: with a ``floor``, outputs at the floor are rendered as ``quiet_level``; with an
        ``onset_threshold``, sounds start where the onset head says (:meth:`shape_onsets`).
        """
        if with_onsets and self.onset is None:
            raise ValueError("with_onsets needs a SoundModel built with onset_head=True")
        check_lengths(lengths, features.shape[1])
        out_lengths = self.out_lengths(lengths) if out_lengths is None else out_lengths.long()
        out_lengths = out_lengths.to(lengths.device)
        x = self.dropout(torch.relu(self.input_proj(features)))
        resample = lambda t, n: resample_time(  # noqa: E731
            t, n, out_lengths, self.video_fps, self.mel_frame_rate, self.interpolation
        )
        if self.upsample == "input":
            y = h = self.rnn(resample(x, lengths), out_lengths)
        else:
            h = self.rnn(x, lengths)
            y = resample(h, lengths)
        mel = self.head(self.dropout(y))
        shaped = not raw and self.onset_threshold is not None
        onsets = self.onset(h).squeeze(-1) if with_onsets or shaped else None
        if not raw:
            mel = self.render_quiet(mel)
            if shaped:
                steps = lengths if self.upsample == "output" else out_lengths
                mel = self.shape_onsets(mel, onsets, steps, resample)
        mel = mel * length_mask(out_lengths.to(mel.device), mel.shape[1])[..., None].to(mel.dtype)
        if with_onsets:
            return mel.transpose(1, 2), out_lengths, onsets
        return mel.transpose(1, 2), out_lengths

    def shape_onsets(
        self, mel: torch.Tensor, onsets: torch.Tensor, steps: torch.Tensor, resample
    ) -> torch.Tensor:
        """mel (B, T', n_mels) rendered so that sounds start where the onset logits (B, steps) peak
        at or above ``onset_threshold`` (:mod:`avseq.models.onset_shaping`); ``resample`` puts
        step-rate values on the mel grid (the identity when the RNN runs at the mel rate)."""
        called = called_starts(torch.sigmoid(onsets.float()), steps, self.onset_threshold)
        if self.upsample == "output":
            free = resample(called[..., None].to(mel.dtype), steps)[..., 0] > 0.5
        else:
            free = called
        return shape_log_mel(mel, free, round(GAP_SECONDS * self.mel_frame_rate))


def onset_strength(target: torch.Tensor) -> torch.Tensor:
    """Positive temporal difference of the mean log-mel energy. (B, n_mels, T) -> (B, T), first frame 0."""
    energy = target.mean(1)
    return torch.nn.functional.pad((energy[:, 1:] - energy[:, :-1]).clamp_min(0.0), (1, 0))


def sound_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    lengths: torch.Tensor,
    onset_weight: float = 0.0,
    kind: Literal["l1", "mse"] = "l1",
    floor: float | None = None,
) -> torch.Tensor:
    """Masked log-mel loss over valid frames; pred, target (B, n_mels, T), lengths (B,) -> scalar.

    ``floor`` (log-mel units) raises target values below it to it: a background noise
    floor that the video cannot predict (one clip silent, the next hissing) then stops
    dominating the loss, and the model learns the sounds that the video does show.

    With ``onset_weight > 0`` each frame is weighted ``1 + onset_weight * o_t / max(o)``,
    where ``o`` is :func:`onset_strength` of the target (max per clip over valid frames),
    so frames where the sound starts count up to ``1 + onset_weight`` times more.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    if kind not in ("l1", "mse"):
        raise ValueError(f"Invalid loss kind {kind!r}. Supported: l1, mse")
    if floor is not None:
        target = target.clamp_min(floor)
    mask = length_mask(lengths.to(pred.device), pred.shape[2]).to(pred.dtype)  # (B, T)
    weight = mask
    if onset_weight > 0:
        onset = onset_strength(target) * mask
        peak = onset.amax(1, keepdim=True).clamp_min(1e-8)
        weight = mask * (1.0 + onset_weight * onset / peak)
    err = (pred - target).abs() if kind == "l1" else (pred - target) ** 2
    return (err.mean(1) * weight).sum() / weight.sum().clamp_min(1e-8)
