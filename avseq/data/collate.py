"""Batch typed examples: pad frames/features, targets and tokens, and keep the lengths.

Use as ``DataLoader(dataset, collate_fn=collate_sound)`` (or ``collate_caption``, ``collate_dense``,
``collate_classify``).
Padded positions hold zeros (tokens hold ``pad_id``) and must be masked by the lengths;
all padding goes through :func:`avseq.types.pad_sequences`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from avseq.data.datasets import (
    CaptionExample,
    ClassifyExample,
    DenseCaptionExample,
    FramesWithCache,
    SoundExample,
    Video,
)
from avseq.types import Features, FrameBatch, Frames, Spectrogram, pad_sequences


@dataclass(frozen=True, repr=False)
class FrameBatchWithCache:
    """Clips of :class:`~avseq.data.datasets.FramesWithCache`, padded: ``frames`` FrameBatch
    (B, T, 3, H, W) with lengths, ``cached`` (B, T, D) their cached features padded alike."""

    frames: FrameBatch
    cached: torch.Tensor

    def __post_init__(self) -> None:
        b, t = self.frames.data.shape[:2]
        if self.cached.dim() != 3 or self.cached.shape[:2] != (b, t):
            shape = tuple(self.cached.shape)
            raise ValueError(f"FrameBatchWithCache.cached must be ({b}, {t}, D), got {shape}")

    @property
    def lengths(self) -> torch.Tensor:
        """(B,) valid frames per clip."""
        return self.frames.lengths

    def to(self, device: torch.device | str) -> FrameBatchWithCache:
        return FrameBatchWithCache(self.frames.to(device), self.cached.to(device))

    def __repr__(self) -> str:
        return f"FrameBatchWithCache(frames={self.frames!r}, cached={tuple(self.cached.shape)})"


VideoBatch = FrameBatch | FrameBatchWithCache | Features


@dataclass(frozen=True, repr=False)
class SoundBatch:
    """ids: B clip ids; video: FrameBatch (B, T, 3, H, W) (with cached features, for a partly
    frozen encoder) or Features (B, T, D), with lengths; target: Spectrogram (B, n_mels, T') with
    frame lengths; durations: (B,) float64 seconds; onsets: each clip's annotated sound times
    (None where its manifest has no events)."""

    ids: list[str]
    video: VideoBatch
    target: Spectrogram
    durations: torch.Tensor
    onsets: tuple[tuple[float, ...] | None, ...] = ()

    def to(self, device: torch.device | str) -> SoundBatch:
        t = self.target
        target = Spectrogram(t.data.to(device), t.lengths.to(device), t.frame_rate)
        return SoundBatch(self.ids, self.video.to(device), target, self.durations, self.onsets)

    def __repr__(self) -> str:
        return f"SoundBatch(B={len(self.ids)}, video={self.video!r}, target={self.target!r})"


@dataclass(frozen=True, repr=False)
class CaptionBatch:
    """ids: B clip ids; video as in :class:`SoundBatch`; tokens: (R, L) int64 padded with
    ``pad_id``, one row per target caption (R >= B when clips train on several);
    token_lengths: (R,) int64; rows: (R,) int64, the clip (0..B-1) of each token row;
    captions: the R target captions; references: every caption of each clip (for metrics)."""

    ids: list[str]
    video: VideoBatch
    tokens: torch.Tensor
    token_lengths: torch.Tensor
    captions: list[str]
    references: list[tuple[str, ...]]
    rows: torch.Tensor

    def to(self, device: torch.device | str) -> CaptionBatch:
        return CaptionBatch(
            self.ids,
            self.video.to(device),
            self.tokens.to(device),
            self.token_lengths.to(device),
            self.captions,
            self.references,
            self.rows.to(device),
        )

    def __repr__(self) -> str:
        return f"CaptionBatch(B={len(self.ids)}, video={self.video!r}, tokens={tuple(self.tokens.shape)})"


def pad_video(videos: Sequence[Video]) -> VideoBatch:
    """Pad clips of Frames into a FrameBatch, FramesWithCache into a FrameBatchWithCache, or
    (T, D) feature tensors into Features."""
    if not videos:
        raise ValueError("cannot collate an empty list of examples")
    with_cache = [isinstance(v, FramesWithCache) for v in videos]
    if any(with_cache):
        if not all(with_cache):
            raise ValueError("cannot batch clips together: some clips have cached features, some not")
        cached, _ = pad_sequences([v.cached for v in videos])
        return FrameBatchWithCache(FrameBatch.from_clips([v.frames for v in videos]), cached)
    if all(isinstance(v, Frames) for v in videos):
        return FrameBatch.from_clips(list(videos))
    if any(isinstance(v, Frames) for v in videos):
        raise ValueError("cannot batch frames together with features in one batch")
    return Features(*pad_sequences(list(videos)))


def collate_sound(examples: Sequence[SoundExample]) -> SoundBatch:
    """Pad sound examples into a :class:`SoundBatch` (targets padded along time)."""
    rates = {e.frame_rate for e in examples}
    if len(rates) != 1:
        raise ValueError(f"examples have different mel frame rates {sorted(rates)}")
    target, lengths = pad_sequences([e.target for e in examples], dim=1)
    durations = torch.tensor([e.duration for e in examples], dtype=torch.float64)
    video = pad_video([e.video for e in examples])
    target = Spectrogram(target, lengths, rates.pop())
    return SoundBatch([e.id for e in examples], video, target, durations, tuple(e.onsets for e in examples))


def collate_caption(examples: Sequence[CaptionExample], pad_id: int = 0) -> CaptionBatch:
    """Pad caption examples into a :class:`CaptionBatch` (tokens padded with ``pad_id``), one
    token row per target caption, clip by clip."""
    tokens, lengths = pad_sequences([t for e in examples for t in e.tokens], dim=0, value=pad_id)
    return CaptionBatch(
        [e.id for e in examples],
        pad_video([e.video for e in examples]),
        tokens,
        lengths,
        [c for e in examples for c in e.targets],
        [e.references for e in examples],
        torch.tensor([i for i, e in enumerate(examples) for _ in e.tokens], dtype=torch.int64),
    )


@dataclass(frozen=True, repr=False)
class DenseCaptionBatch:
    """ids: B clip ids; video as in :class:`SoundBatch`; labels: (B, T, 3) float per-frame
    start / inside / end targets (:func:`avseq.models.proposals.span_labels`; zero on padding);
    spans: (R, 3) int64 ``(clip, first, last)`` of every event, clip by clip; tokens: (R, L) int64
    padded with ``pad_id``, the caption each event trains on; token_lengths: (R,); events: per
    clip its ``(start, end, references)`` in seconds (for metrics)."""

    ids: list[str]
    video: VideoBatch
    labels: torch.Tensor
    spans: torch.Tensor
    tokens: torch.Tensor
    token_lengths: torch.Tensor
    events: list[list[tuple[float, float, tuple[str, ...]]]]

    def to(self, device: torch.device | str) -> DenseCaptionBatch:
        return DenseCaptionBatch(
            self.ids, self.video.to(device), self.labels.to(device), self.spans.to(device),
            self.tokens.to(device), self.token_lengths.to(device), self.events,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"DenseCaptionBatch(B={len(self.ids)}, video={self.video!r}, spans={tuple(self.spans.shape)})"


def collate_dense(examples: Sequence[DenseCaptionExample], pad_id: int = 0) -> DenseCaptionBatch:
    """Pad dense caption examples into a :class:`DenseCaptionBatch`, one token row per event."""
    from avseq.models.proposals import span_labels

    video = pad_video([e.video for e in examples])
    labels, _ = pad_sequences([span_labels(e.spans, len(e.video)) for e in examples])
    spans = [(b, first, last) for b, e in enumerate(examples) for first, last in e.spans]
    tokens, lengths = pad_sequences([t for e in examples for t in e.tokens], dim=0, value=pad_id)
    return DenseCaptionBatch(
        [e.id for e in examples],
        video,
        labels,
        torch.tensor(spans, dtype=torch.int64).reshape(-1, 3),
        tokens,
        lengths,
        [[(*t, r) for t, r in zip(e.times, e.references, strict=True)] for e in examples],
    )


@dataclass(frozen=True, repr=False)
class ClassifyBatch:
    """ids: B example ids; video as in :class:`SoundBatch`; labels: (B, A) int64, each
    attribute's class index (``IGNORE_LABEL`` where unknown); positions: (B, T, 2) float32, where
    each example's object is on each frame (NaN where unknown or padded), or None when no example
    knows (see :class:`~avseq.data.datasets.ClassifyExample`)."""

    ids: list[str]
    video: VideoBatch
    labels: torch.Tensor
    positions: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> ClassifyBatch:
        positions = None if self.positions is None else self.positions.to(device)
        return ClassifyBatch(self.ids, self.video.to(device), self.labels.to(device), positions)

    def __repr__(self) -> str:
        return f"ClassifyBatch(B={len(self.ids)}, video={self.video!r}, labels={tuple(self.labels.shape)})"


def collate_classify(examples: Sequence[ClassifyExample]) -> ClassifyBatch:
    """Pad classify examples into a :class:`ClassifyBatch`."""
    video = pad_video([e.video for e in examples])
    labels = torch.stack([e.labels for e in examples])
    known = [e.positions for e in examples if e.positions is not None]
    if not known or all(bool(p.isnan().all()) for p in known):
        return ClassifyBatch([e.id for e in examples], video, labels)
    nan = torch.full((0, 2), float("nan"))
    positions, _ = pad_sequences(
        [nan if e.positions is None else e.positions for e in examples], value=float("nan")
    )
    return ClassifyBatch([e.id for e in examples], video, labels, positions)
