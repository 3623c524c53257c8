"""Benchmark the local executor: does decoding overlap model compute and writing?

On N generated clips (default 50) this runs, in one process:

1. each stage alone: decode through the same worker pool, then every batch stage on the
   decoded batches, then every sink per file (seconds per stage, inputs precomputed);
2. the whole ``pipelines/caption_and_sound.yaml`` graph through :func:`run_pipeline`.

It prints one JSON line: ``wall`` of the pipeline, ``stage_alone`` seconds, their ``sum`` and
``max``, ``overlap_ratio = wall / max`` (1.0 = everything hidden behind the slowest stage,
``sum / max`` = no overlap at all), ``files_per_s``, and ``stage_in_run`` (busy seconds of each
stage inside the pipeline run, summed over files) to tell machine noise from overlap.
Without ``--caption-bundle`` / ``--sound-bundle`` it builds small random-init bundles
(the figures measure the machinery, not trained models). ``--device cuda`` runs the models on
the GPU, ``--decode-device cuda`` decodes with NVDEC, ``--precision`` and ``--batch-size auto``
are the pipeline's; the line then says where the clips were decoded (``decode_devices``), the
precision of each model stage and the batch size used; on a GPU, ``gpu_busy`` is the share of
the pipeline run's wall time a kernel ran (``nvidia-smi`` sampled, :mod:`tools.gpu_busy`).
Run: ``.venv/bin/python tools/bench_pipeline.py [--device cpu] [--clips 50] [--decode-device cpu]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from avseq.pipeline import expand_inputs, load_pipeline, run_pipeline
from avseq.pipeline.autobatch import resolve_batch_size
from avseq.pipeline.batching import run_batch
from avseq.pipeline.executor import cpu_threads
from avseq.pipeline.finalize import FileState, finalize
from avseq.pipeline.plan import build_plan
from avseq.pipeline.stages import make_decoder
from avseq.pipeline.workers import DecodePool, FileDone, Window

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.gpu_busy import GpuBusy  # noqa: E402

PIPELINE = ROOT / "pipelines" / "caption_and_sound.yaml"


def make_clips(folder: Path, n: int, seconds: float, size: tuple[int, int]) -> None:
    """``n`` clips of moving gradients (H, W) = ``size`` at 15 fps with different lengths."""
    from avseq.io import write_video

    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(n):
        t = int(15 * seconds * (0.75 + 0.5 * (i % 3) / 2))
        frames = np.stack([((xx + 3 * k + 7 * i) % 256 + 0 * yy) for k in range(t)]).astype(np.uint8)
        write_video(folder / f"clip{i:03d}.mp4", np.repeat(frames[..., None], 3, axis=-1), fps=15)


def make_bundles(folder: Path, fps: float, frame: int) -> dict[str, Path]:
    """Small random-init caption and sound bundles sharing fps and frame size."""
    from avseq.bundles import save_bundle
    from avseq.models import Tokenizer, build_system

    enc = {"name": "compact", "out_dim": 64, "width": 16, "depth": 3}
    mel = {"name": "bench", "sample_rate": 16000, "n_fft": 512, "hop_length": 256, "n_mels": 64}
    pre = {"frame_size": [frame, frame], "fps": fps}
    tok = Tokenizer.build(["a red ball bounces on the floor", "a blue cube slides to the left"])
    sound_model = {
        "n_mels": 64,
        "video_fps": fps,
        "mel_frame_rate": 62.5,
        "hidden_size": 128,
        "num_layers": 2,
    }
    sound = {"kind": "sound", "encoder": enc, "model": sound_model}
    caption = {"kind": "caption", "encoder": enc, "model": {"vocab_size": len(tok), "hidden_size": 128}}
    torch.manual_seed(0)
    return {
        "sound": save_bundle(folder / "sound", build_system(sound), {**pre, "mel": mel}),
        "caption": save_bundle(folder / "caption", build_system(caption), pre, tokenizer=tok),
    }


def stages_alone(spec, inputs, outdir: Path) -> dict[str, float]:
    """Seconds of each stage run on its own: decode pool, each batch stage, each sink."""
    plan = build_plan(spec)
    start = time.perf_counter()
    windows, done = [], {}
    with DecodePool(make_decoder(plan), spec.workers, spec.timeout, prefetch=10**6) as pool:
        pool.start([(k, item.path) for k, item in enumerate(inputs)])
        for msg in pool.events():
            if isinstance(msg, Window):
                windows.append(msg)
            elif isinstance(msg, FileDone):
                done[msg.key] = msg
    alone = {"decode": time.perf_counter() - start}
    states = {k: FileState(item, done=done.get(k)) for k, item in enumerate(inputs)}
    size = resolve_batch_size(plan).size
    for i in range(0, len(windows), size):
        for clip in run_batch(plan, windows[i : i + size]):
            states[clip.window.key].pieces[clip.window.index] = clip.pieces
            states[clip.window.key].bounds[clip.window.index] = (clip.window.start, clip.window.end)
            for sid, sec in clip.timings.items():
                alone[sid] = alone.get(sid, 0.0) + sec
    for state in states.values():
        if state.complete:
            for sid, sec in finalize(plan, outdir, state).timings.items():
                if sid in {s.id for s in plan.sinks}:
                    alone[sid] = alone.get(sid, 0.0) + sec
    alone.pop("split", None)
    return alone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--clips", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=2.0, help="mean clip length")
    parser.add_argument("--size", type=int, nargs=2, default=(96, 128), metavar=("H", "W"))
    parser.add_argument("--batch-size", default="8", help="clips per batch, or auto")
    parser.add_argument("--decode-device", choices=["cpu", "cuda"], default="cpu", help="cuda: NVDEC")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--caption-bundle")
    parser.add_argument("--sound-bundle")
    parser.add_argument(
        "--repeats", type=int, default=2, help="alternate stages-alone / pipeline passes; keep minima"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="avseq-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "clips").mkdir()
        make_clips(tmp / "clips", args.clips, args.seconds, tuple(args.size))
        made = make_bundles(tmp / "bundles", fps=8.0, frame=64)
        caption, sound = args.caption_bundle or made["caption"], args.sound_bundle or made["sound"]
        overrides = [
            f"device={args.device}", f"batch_size={args.batch_size}", f"workers={args.workers}",
            f"stages.caption.params.bundle={caption}", f"stages.sound.params.bundle={sound}",
            f"stages.decode.device={args.decode_device}", f"precision={args.precision}",
        ]  # fmt: skip
        spec = load_pipeline(PIPELINE, overrides)
        inputs = expand_inputs([tmp / "clips"])
        run_pipeline(spec, inputs[:2], tmp / "warm-up", progress=False)
        alone, runs = {}, []  # runs: (summary, GPU busy share)
        for k in range(args.repeats):  # interleaved, minimum of each: robust to a busy machine
            with cpu_threads(spec):
                alone_k = stages_alone(spec, inputs, tmp / f"alone{k}")
            for sid, sec in alone_k.items():
                alone[sid] = min(alone.get(sid, sec), sec)
            with GpuBusy() if args.device.startswith("cuda") else _NoSampler() as sampler:
                done = run_pipeline(spec, inputs, tmp / f"out{k}", progress=False)
            runs.append((done, sampler.share))
    result, gpu_busy = min(runs, key=lambda r: r[0].wall_seconds)
    wall, slowest = result.wall_seconds, max(alone.values())
    summary = result.summary
    print(json.dumps({
        "device": summary["device"], "clips": len(inputs), "ok": result.counts["ok"],
        "decode_devices": summary["decode_devices"], "decode_fallbacks": summary["decode_fallbacks"],
        "stage_precision": summary["stage_precision"], "batch_size": summary["batch_size"],
        "batch_size_setting": args.batch_size, "workers": args.workers, "repeats": args.repeats,
        "wall": round(wall, 3), "walls": [round(r.wall_seconds, 3) for r, _ in runs],
        "stage_alone": {k: round(v, 3) for k, v in alone.items()},
        "stage_in_run": result.summary["stage_seconds"],
        "sum": round(sum(alone.values()), 3), "max": round(slowest, 3),
        "slowest_stage": max(alone, key=alone.get), "overlap_ratio": round(wall / slowest, 3),
        "files_per_s": round(len(inputs) / wall, 3),
        "media_s_per_s": result.summary["media_seconds_per_second"],
        "gpu_busy": gpu_busy,
    }))  # fmt: skip


class _NoSampler:
    share = None

    def __enter__(self) -> _NoSampler:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


if __name__ == "__main__":
    main()
