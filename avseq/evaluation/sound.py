"""Sound evaluation of a bundle on a split, with two baselines scored the same way.

- model: the bundle's log-mel, vocoded with Griffin-Lim;
- mean_mel: the mean training log-mel (per mel bin, over clips and time), vocoded;
- retrieval: the real audio of the training clip whose mean-pooled features are
  closest (by the bundle's encoder or ``retrieval``'s; its log-mel for the mel distance);
- reference: not a baseline but a yardstick: the clip's own log-mel as the model renders its
  outputs (below its ``floor``, where it has one, the quiet level), vocoded the same way: what a
  model that matched its training targets exactly would score, so what the vocoder, the onset
  picker and the sounds the floor hides cost before any prediction (onset F1 0.887 on the 80
  level-2 test clips of `sound_level2.yaml`). A model with an ``onset_threshold`` renders its
  starts from its onset head (:mod:`avseq.models.onset_shaping`), so sounds under the floor can
  be heard in its output: the reference does not bound it.

Per clip and system: onsets of the generated audio against the reference onsets
(the manifest's event times, else librosa onsets of the real audio) within one
video frame and within 50 ms (micro-averaged over the split); log-spectral distance
and mel L1 against the real audio; the AV sync offset (lag maximizing the
cross-correlation of onset envelopes), reported as the median |offset| in ms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from avseq.bundles import Bundle
from avseq.data import ManifestEntry
from avseq.data.clips import align_to_video, clip_duration, load_target
from avseq.data.feature_cache import FeatureCache
from avseq.evaluation.inputs import clip_features, nearest, pooled, retrieval_keys
from avseq.io.audio import decode_audio, write_audio
from avseq.metrics import OnsetScores, detect_onsets, log_spectral_distance, mel_l1, onset_f1
from avseq.metrics.audio import envelope_offset, onset_envelope
from avseq.vocoders import Vocoder, build_vocoder

SYSTEMS = ("model", "mean_mel", "retrieval", "reference")
TOLERANCE_MS = 50.0


@dataclass(frozen=True)
class RealClip:
    """One clip's reference: wave (N,) on the video timeline, log-mel (n_mels, T'), onsets (s)."""

    wave: torch.Tensor
    log_mel: torch.Tensor
    onsets: list[float]
    duration: float


def real_clip(entry: ManifestEntry, bundle: Bundle) -> RealClip:
    """Decode the clip's real audio and its log-mel per the bundle's recipe."""
    prep = bundle.preprocessing
    duration = clip_duration(entry.path, entry.duration)
    wave = align_to_video(decode_audio(entry.path, sample_rate=prep.recipe.sample_rate, channels=1), duration)
    log_mel = load_target(entry.path, prep, duration)
    if entry.events:
        onsets = entry.onsets  # every sound of every event (a level-2 event holds several)
    else:
        onsets = detect_onsets(wave, prep.recipe.sample_rate).tolist()
    return RealClip(wave, log_mel, onsets, duration)


def fit_length(x: torch.Tensor, n: int) -> torch.Tensor:
    """Cut or zero-pad the last axis of ``x`` to ``n``."""
    if x.shape[-1] >= n:
        return x[..., :n]
    return torch.nn.functional.pad(x, (0, n - x.shape[-1]))


class Scorer:
    """Accumulates per-system scores over clips."""

    def __init__(self, frame_tolerance: float, sample_rate: int) -> None:
        self.frame_tolerance, self.sample_rate = frame_tolerance, sample_rate
        self.onsets = {s: {"frame": OnsetScores(0, 0, 0), "50ms": OnsetScores(0, 0, 0)} for s in SYSTEMS}
        self.values: dict[str, dict[str, list[float]]] = {
            s: {"lsd": [], "mel_l1": [], "sync": []} for s in SYSTEMS
        }
        self._reference: tuple[RealClip, np.ndarray] | None = None  # the last clip's onset envelope

    def add(self, system: str, wave: torch.Tensor, log_mel: torch.Tensor, real: RealClip) -> dict[str, Any]:
        """Score one generated clip; returns its per-clip figures."""
        est = detect_onsets(wave, self.sample_rate)
        by_frame = onset_f1(real.onsets, est, self.frame_tolerance)
        by_50ms = onset_f1(real.onsets, est, TOLERANCE_MS / 1000)
        self.onsets[system]["frame"] += by_frame
        self.onsets[system]["50ms"] += by_50ms
        lsd = log_spectral_distance(wave, real.wave)
        l1 = mel_l1(fit_length(log_mel, real.log_mel.shape[1]), real.log_mel)
        envelope, rate = onset_envelope(wave, self.sample_rate)
        offset = envelope_offset(envelope, self._reference_envelope(real), rate)
        for key, value in (("lsd", lsd), ("mel_l1", l1), ("sync", abs(offset) * 1000)):
            if math.isfinite(value):
                self.values[system][key].append(value)
        return {
            "onset_f1": by_frame.f1,
            "onsets": len(est),
            "lsd": lsd,
            "mel_l1": l1,
            "sync_offset_ms": offset * 1000,
        }

    def _reference_envelope(self, real: RealClip) -> np.ndarray:
        """The onset envelope of ``real``'s audio, computed once for the systems scored against it."""
        if self._reference is None or self._reference[0] is not real:
            self._reference = (real, onset_envelope(real.wave, self.sample_rate)[0])
        return self._reference[1]

    def report(self) -> dict[str, Any]:
        out = {}
        for s in SYSTEMS:
            v = self.values[s]
            out[s] = {
                "onset_frame": self.onsets[s]["frame"].as_dict(),
                "onset_50ms": self.onsets[s]["50ms"].as_dict(),
                "lsd_db": float(np.mean(v["lsd"])) if v["lsd"] else None,
                "mel_l1": float(np.mean(v["mel_l1"])) if v["mel_l1"] else None,
                "sync_median_abs_ms": float(np.median(v["sync"])) if v["sync"] else None,
                "sync_clips": len(v["sync"]),
            }
        return out


def mean_log_mel(bundle: Bundle, train: Sequence[ManifestEntry]) -> torch.Tensor:
    """(n_mels,) mean of the training clips' log-mels over clips and time."""
    mels = [load_target(e.path, bundle.preprocessing, clip_duration(e.path, e.duration)) for e in train]
    return torch.cat(mels, dim=1).mean(1)


@torch.no_grad()
def predict_log_mel(bundle: Bundle, features: torch.Tensor, n_frames: int) -> torch.Tensor:
    """The model's log-mel (n_mels, n_frames) from one clip's features (T, D)."""
    dev = features.device
    lengths = torch.tensor([features.shape[0]], device=dev)
    mel, _ = bundle.system.from_features(features[None], lengths, torch.tensor([n_frames], device=dev))
    return mel[0].float().cpu()


def evaluate_sound(
    bundle: Bundle,
    test: Sequence[ManifestEntry],
    train: Sequence[ManifestEntry],
    device: torch.device,
    clips_dir: Path,
    *,
    n_iter: int = 32,
    retrieval: Bundle | None = None,
    train_cache: FeatureCache | None = None,
    progress=lambda items, desc: items,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(report, per-clip rows); writes the model's WAV of each clip into ``clips_dir``.

    retrieval: the bundle whose encoder finds each clip's nearest training clip (default: ``bundle``).
    train_cache: that encoder's feature cache for the training clips (see ``retrieval_keys``).
    """
    prep = bundle.preprocessing
    sr, fps = prep.recipe.sample_rate, prep.fps or 15.0
    vocoder = build_vocoder("griffin-lim", prep.recipe, n_iter=n_iter)
    train_keys = retrieval_keys(retrieval or bundle, train, device, progress, "train clips", train_cache)
    mean_mel = mean_log_mel(bundle, train)
    scorer = Scorer(1.0 / fps, sr)
    render_quiet = bundle.system.model.render_quiet
    rows = []
    for entry in progress(test, "test clips"):
        real = real_clip(entry, bundle)
        feats = clip_features(bundle.system, entry, prep, device)
        n = real.log_mel.shape[1]
        mels = {
            "model": predict_log_mel(bundle, feats, n),
            "mean_mel": mean_mel[:, None].expand(-1, n).clone(),
            "reference": render_quiet(real.log_mel.T).T,
        }
        waves = {k: _vocode(vocoder, m, real.wave.shape[0]) for k, m in mels.items()}
        query = pooled([feats]) if retrieval is None else retrieval_keys(retrieval, [entry], device)
        j = nearest(query, train_keys)[0]
        neighbour = real_clip(train[j], bundle)
        waves["retrieval"] = fit_length(neighbour.wave, real.wave.shape[0])
        mels["retrieval"] = neighbour.log_mel
        write_audio(clips_dir / f"{_safe(entry.id)}.wav", waves["model"], sr)
        row = {"id": entry.id, "reference_onsets": real.onsets, "retrieved": train[j].id}
        row.update({s: scorer.add(s, waves[s], mels[s], real) for s in SYSTEMS})
        rows.append(row)
    return scorer.report(), rows


def _vocode(vocoder: Vocoder, log_mel: torch.Tensor, n_samples: int) -> torch.Tensor:
    wave, _ = vocoder(log_mel[None])
    return fit_length(wave[0], n_samples)


def _safe(clip_id: str) -> str:
    return clip_id.replace("/", "__")
