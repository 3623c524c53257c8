"""Benchmark the learning core: frame-encoder throughput and LSTM step rates.

Prints one JSON line. Each figure comes from a small measurement function in
``MEASUREMENTS``; adding a benchmark means adding one function ``(Options) -> dict``
to that list. Figures are best-of-``repeats`` wall time with random-init models:

- ``encoder_fps``: frames per second of each registered encoder at ``size`` px
  (``batch`` frames per call, inference mode);
- ``sound_model``: SoundModel log-mel frames (LSTM steps x clips) per second, inference
  and one training step (forward + backward);
- ``captioner``: Captioner decoding, step calls and tokens per second, greedy and beam;
- ``compact_training``: one forward + backward of the depth-6 CNN of sound_synth and caption_synth
  (``compact``, width 16) on 360 frames of 64 px, as it runs (channels-last) against the same layers on
  channels-first memory, in the same run;
- ``griffin_lim``: Griffin-Lim seconds per second of audio against librosa's in the same run
  (``tools/bench_vocoder.py``).

Run: ``.venv/bin/python tools/bench_models.py [--size 112] [--batch 8] [--threads 2] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from avseq.models import ENCODERS, Captioner, SoundModel, build_encoder, sound_loss
from avseq.models.encoders import CompactCNN

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_vocoder import bench_griffin_lim  # noqa: E402


@dataclass(frozen=True)
class Options:
    """What every measurement may read."""

    size: int = 112
    batch: int = 8
    repeats: int = 3
    device: str = "cpu"


def best_time(fn: Callable[[], object], repeats: int, device: str) -> float:
    """Best wall seconds of ``fn`` over ``repeats`` runs, after one warm-up run."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def encoder_fps(opt: Options) -> dict:
    """Frames per second of each encoder on (1, batch, 3, size, size) frames."""
    frames = torch.rand(1, opt.batch, 3, opt.size, opt.size, device=opt.device)
    lengths = torch.tensor([opt.batch], device=opt.device)
    out = {}
    for name in ENCODERS.list():
        enc = build_encoder(name).to(opt.device).eval()
        with torch.inference_mode():
            seconds = best_time(lambda enc=enc: enc(frames, lengths), opt.repeats, opt.device)
        out[name] = round(opt.batch / seconds, 1)
    return {"encoder_fps": out}


def sound_model(opt: Options) -> dict:
    """Log-mel frames per second of a default-size SoundModel (512-d features, 4 s clips at 15 fps)."""
    torch.manual_seed(0)
    model = SoundModel(512, n_mels=80, video_fps=15.0, mel_frame_rate=62.5).to(opt.device)
    feats = torch.randn(opt.batch, 60, 512, device=opt.device)
    lengths = torch.full((opt.batch,), 60, device=opt.device)
    steps = int(model.out_lengths(lengths).sum())

    def train_step():
        mel, mel_len = model(feats, lengths)
        sound_loss(mel, torch.zeros_like(mel), mel_len).backward()

    model.eval()
    with torch.inference_mode():
        infer = best_time(lambda: model(feats, lengths), opt.repeats, opt.device)
    model.train()
    train = best_time(train_step, opt.repeats, opt.device)
    return {
        "sound_model": {
            "mel_frames_per_s": round(steps / infer, 1),
            "train_mel_frames_per_s": round(steps / train, 1),
            "clips": opt.batch,
            "mel_frames_per_clip": steps // opt.batch,
        }
    }


def captioner(opt: Options) -> dict:
    """Decoding rate of a default-size Captioner (vocab 5000, 20 tokens) over 30-frame clips."""
    torch.manual_seed(0)
    model = Captioner(512, 5000).to(opt.device).eval()
    feats = torch.randn(opt.batch, 30, 512, device=opt.device)
    lengths = torch.full((opt.batch,), 30, device=opt.device)
    max_len, beam = 20, 5
    out = {}
    with torch.inference_mode():
        # a random model rarely emits <eos>, so each search runs all max_len steps
        greedy = best_time(lambda: model.greedy(feats, lengths, max_len=max_len), opt.repeats, opt.device)
        search = best_time(
            lambda: model.beam_search(feats, lengths, beam_size=beam, max_len=max_len),
            opt.repeats,
            opt.device,
        )
    out["greedy_steps_per_s"] = round(max_len / greedy, 1)
    out["greedy_tokens_per_s"] = round(max_len * opt.batch / greedy, 1)
    out["beam5_steps_per_s"] = round(max_len / search, 1)
    out["beam5_tokens_per_s"] = round(max_len * opt.batch * beam / search, 1)
    out["clips"] = opt.batch
    return {"captioner": out}


def compact_training(opt: Options) -> dict:
    """Forward + backward of the synth configs' depth-6 CNN: channels-last (as run) vs channels-first."""
    torch.manual_seed(0)
    cnn = CompactCNN(out_dim=128, width=16, depth=6).to(opt.device).train()
    frames = torch.rand(360, 3, 64, 64, device=opt.device)  # 16 clips of ~22 frames

    def as_run():
        cnn(frames).square().mean().backward()

    def channels_first():  # the same layers, without the conversion forward() makes
        cnn.proj(cnn.features(frames).mean((2, 3))).square().mean().backward()

    run, first = float("inf"), float("inf")
    for _ in range(max(opt.repeats, 5)):  # interleaved, so a drifting machine skews both alike
        run = min(run, best_time(as_run, 1, opt.device))
        first = min(first, best_time(channels_first, 1, opt.device))
    return {
        "compact_training": {
            "channels_last_s": round(run, 4),
            "channels_first_s": round(first, 4),
            "speedup": round(first / run, 2),
            "frames": 360,
        }
    }


def griffin_lim(opt: Options) -> dict:
    """Griffin-Lim (default recipe, 2 s clip) against librosa's mel inversion, same run."""
    return {"griffin_lim": bench_griffin_lim(repeats=opt.repeats, device=opt.device, threads=None)}


MEASUREMENTS: list[Callable[[Options], dict]] = [
    encoder_fps, sound_model, captioner, compact_training, griffin_lim,
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=112, help="frame size in px")
    parser.add_argument("--batch", type=int, default=8, help="frames per encoder call / clips per batch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: as is)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    opt = Options(args.size, args.batch, args.repeats, args.device)
    result = {
        "device": args.device,
        "threads": torch.get_num_threads(),
        "size": args.size,
        "load_avg_1min": round(os.getloadavg()[0], 2),  # other processes on the machine skew wall times
    }
    for measure in MEASUREMENTS:
        result.update(measure(opt))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
