"""The domain check's math: fit a bundle's :class:`~avseq.bundles.card.FeatureStats` from its
encoder's features on training clips, and score clips against them.

The score (``minor_components``): the training frames of a small world vary along few directions
of feature space; footage from elsewhere moves along the directions they never moved in. So the
statistics keep the K directions of least variance of the training features, and a frame's score
is its mean squared offset along them in units of their standard deviation (a Mahalanobis
distance restricted to those directions): about 1 on training frames. A clip's score is the mean
over its frames. Per-dimension means and deviations alone do not separate: real footage keeps
each dimension within the synthetic range while breaking their correlations.

The threshold is ``margin`` times the largest score over held-out clips of the training world
(seeds no training run used), so fresh clips of that world pass with room to spare.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from avseq.bundles.card import QUANTILES, FeatureStats

DEFAULT_COMPONENTS = 32
DEFAULT_RIDGE = 1e-6  # added to each kept variance, relative to the largest variance
DEFAULT_MARGIN = 2.0


def frame_scores(
    features: torch.Tensor, mean: torch.Tensor, components: torch.Tensor, variances: torch.Tensor
) -> torch.Tensor:
    """features (..., D), mean (D,), components (K, D), variances (K,) -> per-frame scores (...)."""
    offsets = (features.float() - mean) @ components.T
    return (offsets.square() / variances).mean(dim=-1)


def clip_scores(features: torch.Tensor, lengths: torch.Tensor, stats: FeatureStats) -> torch.Tensor:
    """features (B, T, D), lengths (B,) -> (B,) clip scores: the mean frame score over valid frames
    (0 for a clip without frames)."""
    return DomainScorer(stats)(features, lengths)


class DomainScorer:
    """:func:`clip_scores` for one bundle's statistics, their tensors kept on each device used."""

    def __init__(self, stats: FeatureStats) -> None:
        self.stats = stats
        self._tensors: dict[torch.device, tuple[torch.Tensor, ...]] = {}

    def _on(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        if device not in self._tensors:
            s = self.stats
            arrays = (s.mean, s.components, s.variances)
            self._tensors[device] = tuple(
                torch.as_tensor(a, dtype=torch.float32, device=device) for a in arrays
            )
        return self._tensors[device]

    def __call__(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """features (B, T, D), lengths (B,) -> (B,) float32 clip scores on the features' device."""
        if features.shape[-1] != self.stats.dim:
            raise ValueError(
                f"features have {features.shape[-1]} dimensions, the statistics {self.stats.dim}"
            )
        per_frame = frame_scores(features, *self._on(features.device))
        lengths = lengths.to(features.device)
        valid = torch.arange(features.shape[1], device=features.device) < lengths[:, None]
        return (per_frame * valid).sum(dim=1) / lengths.clamp_min(1).float()


def fit_feature_stats(
    train: Sequence[torch.Tensor],
    held_out: Sequence[torch.Tensor],
    *,
    source: str,
    components: int = DEFAULT_COMPONENTS,
    ridge: float = DEFAULT_RIDGE,
    margin: float = DEFAULT_MARGIN,
    calibration: dict[str, Any] | None = None,
) -> FeatureStats:
    """Statistics of per-clip features ``train`` (each (T, D)), thresholded on ``held_out`` clips.

    ``source`` says what the clips are (recorded in the bundle); ``calibration`` adds to the
    record of how the threshold was set (e.g. the seeds of the held-out clips).
    """
    if not train or not held_out:
        raise ValueError("fit_feature_stats needs training clips and held-out clips")
    frames = torch.cat([f.detach().double().cpu() for f in train])
    dim = frames.shape[1]
    if not 0 < components <= dim:
        raise ValueError(f"components must be within 1..{dim} (the feature size), got {components}")
    mean = frames.mean(dim=0)
    centred = frames - mean
    cov = centred.T @ centred / max(1, frames.shape[0] - 1)
    values, vectors = torch.linalg.eigh(cov)  # ascending
    kept = values[:components].clamp_min(0) + ridge * values[-1]
    stats = FeatureStats(
        source=source,
        clips=len(train),
        frames=int(frames.shape[0]),
        mean=mean.float().numpy(),
        std=frames.std(dim=0).float().numpy(),
        components=vectors[:, :components].T.contiguous().float().numpy(),
        variances=kept.float().numpy(),
        train_scores=dict.fromkeys(QUANTILES, 0.0),
        threshold=1.0,
    )
    train_scores = _scores(train, stats)
    held_scores = _scores(held_out, stats)
    record = {
        "rule": "threshold = margin x the largest score over held-out clips",
        "margin": margin,
        "held_out_clips": len(held_out),
        "held_out_scores": _quantiles(held_scores),
        **(calibration or {}),
    }
    threshold = float(margin * held_scores.max())
    return replace(stats, train_scores=_quantiles(train_scores), threshold=threshold, calibration=record)


def _scores(clips: Sequence[torch.Tensor], stats: FeatureStats) -> np.ndarray:
    """One score per clip (T, D)."""
    scorer = DomainScorer(stats)
    return np.array([float(scorer(c[None].float().cpu(), torch.tensor([c.shape[0]]))[0]) for c in clips])


def _quantiles(scores: np.ndarray) -> dict[str, float]:
    q = np.quantile(scores, [0.0, 0.5, 0.9, 0.99, 1.0])
    return {name: round(float(v), 6) for name, v in zip(QUANTILES, q, strict=True)}
