"""Benchmark avseq's Griffin-Lim against librosa's in the same run.

Times per second of audio (lower is better) for the whole log-mel -> wave inversion:

- ``avseq``: :class:`avseq.vocoders.GriffinLim` (pinv + NNLS steps, fast Griffin-Lim), one clip;
- ``avseq_batch``: the same on a padded batch of clips with different lengths;
- ``librosa``: ``librosa.feature.inverse.mel_to_audio`` (exact NNLS + ``librosa.griffinlim``);
- ``librosa_phase_only``: ``librosa.griffinlim`` alone on avseq's linear estimate, so the
  phase-recovery loops compare like for like.

Each entry also reports spectral convergence against the input mel (lower is better).
Run: ``.venv/bin/python tools/bench_vocoder.py [--seconds 2] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import librosa
import numpy as np
import torch

from avseq.transforms import get_recipe, mel_spectrogram, to_log
from avseq.vocoders import GriffinLim, mel_to_linear


def _test_wave(sr: int, seconds: float, seed: int = 0) -> torch.Tensor:
    """Tones with a gated partial plus a little noise: (N,) float32."""
    t = torch.arange(int(sr * seconds), dtype=torch.float64) / sr
    noise = torch.randn(t.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    gate = (torch.sin(2 * torch.pi * 2 * t) > 0).double()
    wave = 0.4 * torch.sin(2 * torch.pi * 330 * t) + 0.25 * gate * torch.sin(2 * torch.pi * 1760 * t)
    return (wave + 0.03 * noise).float()


def _best_of(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def _spectral_convergence(wave, mel: torch.Tensor, recipe) -> float:
    rebuilt = mel_spectrogram(torch.as_tensor(np.asarray(wave)).float().reshape(1, -1), recipe)
    t = min(rebuilt.shape[-1], mel.shape[-1])
    return float((rebuilt[..., :t] - mel[..., :t]).norm() / mel[..., :t].norm())


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bench_griffin_lim(
    recipe: str = "default",
    seconds: float = 2.0,
    n_iter: int = 32,
    batch: int = 8,
    repeats: int = 3,
    device: str = "cpu",
    threads: int | None = 1,
) -> dict:
    """Time avseq's Griffin-Lim and librosa's on the same clip; returns a JSON-able dict.

    Figures are best-of-``repeats`` wall seconds, also divided by seconds of audio
    (``s_per_audio_s``; below 1.0 is faster than real time). ``threads`` caps torch's
    intra-op threads for the run (1 = like for like with librosa's single-threaded
    numpy FFTs; None = leave as is) and is restored afterwards.
    """
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _run(recipe, seconds, n_iter, batch, repeats, device)
    finally:
        torch.set_num_threads(previous)


def _run(recipe: str, seconds: float, n_iter: int, batch: int, repeats: int, device: str) -> dict:
    r = get_recipe(recipe)
    wave = _test_wave(r.sample_rate, seconds)
    mel = mel_spectrogram(wave, r)
    log_mel = to_log(mel, r)
    vocoder = GriffinLim(r, n_iter=n_iter).to(device)

    def ours():
        out = vocoder(log_mel.to(device))[0]
        _sync(device)
        return out

    ours()  # warm-up (allocations, cuFFT plans)
    t_ours, y_ours = _best_of(ours, repeats)

    lengths = torch.linspace(mel.shape[-1] // 2, mel.shape[-1], batch).long()
    batch_mel = log_mel.expand(batch, -1, -1).clone() * (
        torch.arange(mel.shape[-1]).view(1, 1, -1) < lengths.view(-1, 1, 1)
    )

    def ours_batch():
        out = vocoder(batch_mel.to(device), lengths)[0]
        _sync(device)
        return out

    t_batch, _ = _best_of(ours_batch, repeats)
    batch_audio_s = float(((lengths - 1) * r.hop_length).sum()) / r.sample_rate

    mel_np = mel[0].double().numpy()
    f_min, f_max = r.band

    def theirs():  # librosa.feature.inverse.mel_to_audio, spelled out to seed its phase init
        linear = librosa.feature.inverse.mel_to_stft(
            mel_np, sr=r.sample_rate, n_fft=r.n_fft, power=r.power, fmin=f_min, fmax=f_max
        )
        return librosa.griffinlim(
            linear, n_iter=n_iter, hop_length=r.hop_length, n_fft=r.n_fft, pad_mode="reflect", random_state=0
        )

    t_theirs, y_theirs = _best_of(theirs, repeats)
    linear = (
        mel_to_linear(mel, vocoder.fb.cpu(), vocoder.fb_pinv.cpu(), vocoder.nnls_iter)[0].double().numpy()
    )

    def theirs_phase():
        return librosa.griffinlim(
            linear, n_iter=n_iter, hop_length=r.hop_length, n_fft=r.n_fft, pad_mode="reflect", random_state=0
        )

    t_phase, y_phase = _best_of(theirs_phase, repeats)

    def entry(t: float, audio_s: float, y=None) -> dict:
        out = {"seconds": round(t, 4), "s_per_audio_s": round(t / audio_s, 5)}
        if y is not None:
            out["spectral_convergence"] = round(_spectral_convergence(y, mel, r), 4)
        return out

    return {
        "recipe": r.name,
        "audio_seconds": seconds,
        "n_iter": n_iter,
        "device": device,
        "threads": torch.get_num_threads(),
        "avseq": entry(t_ours, seconds, y_ours.cpu()[0]),
        "avseq_batch": {
            **entry(t_batch, batch_audio_s),
            "batch": batch,
            "audio_seconds": round(batch_audio_s, 3),
        },
        "librosa": entry(t_theirs, seconds, y_theirs),
        "librosa_phase_only": entry(t_phase, seconds, y_phase),
        "speedup_vs_librosa": round(t_theirs / t_ours, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="default")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--n-iter", type=int, default=32)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0 = torch's default)")
    args = parser.parse_args()
    figures = bench_griffin_lim(
        args.recipe, args.seconds, args.n_iter, args.batch, args.repeats, args.device, args.threads or None
    )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
