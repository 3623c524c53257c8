"""Audio and audio-visual sync metrics for generated sound.

All times are seconds. Waveforms are mono ``(N,)`` arrays or tensors at a given
sample rate (a ``(1, N)`` or ``(C, N)`` input is averaged to mono).

- :func:`onset_f1`: precision / recall / F1 of estimated onsets against reference
  onsets within a tolerance (one-to-one matching, as in mir_eval).
- :func:`sync_offset`: the lag that maximizes the cross-correlation of the
  onset-strength envelopes of generated and reference audio.
- :func:`log_spectral_distance` and :func:`mel_l1`: spectral closeness.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

SYNC_HOP_SECONDS = 0.004
# Peak-picking threshold on the normalized onset envelope. Calibrated on 150 training clips of the
# synthetic world against their annotated impacts: 0.2 finds them all in the real audio with
# precision 0.96 (waveform) and 0.93 (log-mel); librosa's default 0.07 gives 0.68 and 0.29.
ONSET_DELTA = 0.2


def to_mono(wave: torch.Tensor | np.ndarray) -> np.ndarray:
    """``(N,)``, ``(1, N)`` or ``(C, N)`` -> float32 ``(N,)`` (channel mean)."""
    arr = wave.detach().cpu().numpy() if isinstance(wave, torch.Tensor) else np.asarray(wave)
    if arr.ndim == 2:
        arr = arr.mean(axis=0)
    if arr.ndim != 1:
        raise ValueError(f"a waveform must be (N,) or (C, N), got shape {arr.shape}")
    return arr.astype(np.float32, copy=False)


@dataclass(frozen=True)
class OnsetScores:
    """Onset matching counts and the scores they give (micro-averaged when combined)."""

    matches: int
    n_reference: int
    n_estimated: int

    @property
    def precision(self) -> float:
        return self.matches / self.n_estimated if self.n_estimated else float(self.n_reference == 0)

    @property
    def recall(self) -> float:
        return self.matches / self.n_reference if self.n_reference else float(self.n_estimated == 0)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0

    def __add__(self, other: OnsetScores) -> OnsetScores:
        return OnsetScores(
            self.matches + other.matches,
            self.n_reference + other.n_reference,
            self.n_estimated + other.n_estimated,
        )

    def as_dict(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1}

    @staticmethod
    def total(scores: Iterable[OnsetScores]) -> OnsetScores:
        """Sum the counts of several clips (micro average)."""
        out = OnsetScores(0, 0, 0)
        for s in scores:
            out = out + s
        return out


def match_onsets(reference: Sequence[float], estimated: Sequence[float], tolerance: float) -> int:
    """Size of a maximum one-to-one matching with ``|ref - est| <= tolerance`` (seconds).

    With equal windows on a line, the greedy left-to-right sweep is optimal.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0 seconds, got {tolerance}")
    ref = np.sort(np.asarray(reference, dtype=np.float64))
    est = np.sort(np.asarray(estimated, dtype=np.float64))
    i = j = matches = 0
    eps = 1e-9
    while i < len(ref) and j < len(est):
        if est[j] < ref[i] - tolerance - eps:
            j += 1
        elif est[j] > ref[i] + tolerance + eps:
            i += 1
        else:
            matches += 1
            i += 1
            j += 1
    return matches


def onset_f1(reference: Sequence[float], estimated: Sequence[float], tolerance: float) -> OnsetScores:
    """Onset precision / recall / F1 of ``estimated`` vs ``reference`` times (seconds).

    A reference onset is found when an unmatched estimate lies within ``tolerance``
    seconds (e.g. one video frame ``1 / fps``, or 0.05). Empty vs empty scores 1.
    """
    return OnsetScores(match_onsets(reference, estimated, tolerance), len(reference), len(estimated))


def detect_onsets(
    wave: torch.Tensor | np.ndarray, sample_rate: int, hop_length: int = 128, delta: float = ONSET_DELTA
) -> np.ndarray:
    """Onset times in seconds of a waveform (librosa's spectral-flux peak picking).

    wave: (N,) or (C, N). delta: peak threshold on the normalized onset envelope
    (see ``ONSET_DELTA``). The STFT pads by reflection: librosa's zero padding makes a
    clip that starts with sound (e.g. a noise floor) show a false onset near 70 ms.
    Returns sorted seconds.
    """
    import librosa

    y = to_mono(wave)
    if not np.any(np.abs(y) > 1e-6):
        return np.zeros(0)
    env, _ = onset_envelope(y, sample_rate, hop_length / sample_rate)
    times = librosa.onset.onset_detect(
        onset_envelope=env, sr=sample_rate, hop_length=hop_length, units="time", backtrack=False, delta=delta
    )
    return np.asarray(times, dtype=np.float64)


def onset_envelope(
    wave: torch.Tensor | np.ndarray, sample_rate: int, hop_seconds: float = SYNC_HOP_SECONDS
) -> tuple[np.ndarray, float]:
    """Onset-strength envelope (frames,) of ``wave`` and its frame rate in Hz (reflect-padded STFT)."""
    import librosa

    hop = max(1, round(hop_seconds * sample_rate))
    env = librosa.onset.onset_strength(
        y=to_mono(wave), sr=sample_rate, hop_length=hop, center=True, pad_mode="reflect"
    )
    return env.astype(np.float64), sample_rate / hop


def sync_offset(
    generated: torch.Tensor | np.ndarray,
    reference: torch.Tensor | np.ndarray,
    sample_rate: int,
    max_offset: float = 0.5,
    hop_seconds: float = SYNC_HOP_SECONDS,
) -> float:
    """Offset in seconds of ``generated`` against ``reference``; positive = generated is late.

    The lag within ``+-max_offset`` seconds that maximizes the cross-correlation of the
    two onset-strength envelopes (mean removed), at ``hop_seconds`` resolution.
    """
    if max_offset <= 0:
        raise ValueError(f"max_offset must be > 0 seconds, got {max_offset}")
    g, rate = onset_envelope(generated, sample_rate, hop_seconds)
    r, _ = onset_envelope(reference, sample_rate, hop_seconds)
    return envelope_offset(g, r, rate, max_offset)


def envelope_offset(g: np.ndarray, r: np.ndarray, rate: float, max_offset: float = 0.5) -> float:
    """:func:`sync_offset` from the two onset envelopes (:func:`onset_envelope`, frame rate
    ``rate``), for a caller that compares several sounds with one reference."""
    n = min(len(g), len(r))
    g, r = g[:n] - g[:n].mean(), r[:n] - r[:n].mean()
    max_lag = min(round(max_offset * rate), n - 1)
    lags = np.arange(-max_lag, max_lag + 1)
    scores = [float(np.dot(g[max(0, k) : n + min(0, k)], r[max(0, -k) : n - max(0, k)])) for k in lags]
    return float(lags[int(np.argmax(scores))] / rate)


def _power_spectrogram(wave: np.ndarray, n_fft: int, hop_length: int) -> torch.Tensor:
    x = torch.from_numpy(wave)
    window = torch.hann_window(n_fft)
    spec = torch.stft(x, n_fft, hop_length, window=window, center=True, return_complex=True)
    return spec.abs().pow(2)


def log_spectral_distance(
    generated: torch.Tensor | np.ndarray,
    reference: torch.Tensor | np.ndarray,
    n_fft: int = 1024,
    hop_length: int = 256,
    eps: float = 1e-8,
) -> float:
    """Log-spectral distance in dB: mean over frames of the RMS over bins of the log-power difference.

    Both waveforms are at the same sample rate; the longer is cut to the shorter.
    """
    g, r = to_mono(generated), to_mono(reference)
    n = min(len(g), len(r))
    if n < n_fft // 2 + 1:
        raise ValueError(f"waveforms too short for n_fft={n_fft}: {n} samples")
    pg = _power_spectrogram(g[:n], n_fft, hop_length)
    pr = _power_spectrogram(r[:n], n_fft, hop_length)
    diff = 10 * torch.log10((pg + eps) / (pr + eps))
    return float(diff.pow(2).mean(dim=0).sqrt().mean())


def mel_l1(generated: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean absolute difference of two log-mels ``(n_mels, T)``, cut to the shorter T."""
    if generated.dim() != 2 or reference.dim() != 2 or generated.shape[0] != reference.shape[0]:
        raise ValueError(
            f"mel_l1 needs two (n_mels, T) log-mels with equal n_mels, got "
            f"{tuple(generated.shape)} and {tuple(reference.shape)}"
        )
    t = min(generated.shape[1], reference.shape[1])
    return float((generated[:, :t] - reference[:, :t]).abs().mean())


def onsets_from_log_mel(
    log_mel: torch.Tensor | np.ndarray, frame_rate: float, delta: float = ONSET_DELTA
) -> np.ndarray:
    """Onset times in seconds picked from a log-mel ``(n_mels, T)`` at ``frame_rate`` frames/s.

    Spectral flux of the log-mel (librosa's onset_strength on a log spectrogram) and the
    same peak picking as :func:`detect_onsets`; no vocoder needed, so it is cheap enough
    for validation during training.
    """
    import librosa

    s = log_mel.detach().float().cpu().numpy() if isinstance(log_mel, torch.Tensor) else np.asarray(log_mel)
    if s.ndim != 2:
        raise ValueError(f"log_mel must be (n_mels, T), got shape {s.shape}")
    if s.shape[1] < 3 or np.ptp(s) == 0:
        return np.zeros(0)
    env = librosa.onset.onset_strength(S=s, sr=frame_rate, hop_length=1, center=False)
    frames = librosa.onset.onset_detect(onset_envelope=env, sr=frame_rate, hop_length=1, delta=delta)
    return np.asarray(frames, dtype=np.float64) / frame_rate
