"""Benchmark the synthetic world's render speed: clip-seconds per CPU-second, level 1 and level 2.

Each level writes clips exactly as ``avseq synth`` does (``split.write_clip``: render, then
H.264 + AAC with one encoder thread, sidecar record) into a temporary folder, in this one
process, one clip after another, and is timed by the process's CPU time
(``time.process_time``: every thread, so it is the cost on one core however the work is
spread). Levels run round-robin ``--repeats`` times, each keeping its best figure, since the
machine may be shared. Per level it prints clip-seconds per CPU-second of the whole write, of
the rendering alone (frames, audio, captions), and the video bitrate the clips were written at.
The target of issue 25 is >= 10 clip-seconds per CPU-second for each level.

Run: ``.venv/bin/python tools/bench_synth.py [--clips1 60] [--clips2 6] [--repeats 2]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import av

from avseq.data.synth import Level2Config, SynthConfig, get_level
from avseq.data.synth.split import write_clip


def _video_kbps(path: Path) -> float:
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        size = sum(p.size for p in c.demux(stream))
        seconds = float(stream.duration * stream.time_base) if stream.duration else 0.0
    return 8 * size / seconds / 1000 if seconds else float("nan")


def bench_level(config, seeds: list[int]) -> dict:
    """Write the clips of ``seeds``; clip-seconds per CPU-second of writing and of rendering alone."""
    render = get_level(config.level).render
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        start = time.process_time()
        entries = [write_clip(out, "train", s, config, silent_copy=False) for s in seeds]
        write_cpu = time.process_time() - start
        kbps = [_video_kbps(e.path) for e in entries]
    start = time.process_time()
    for s in seeds:
        render(s, config)
    render_cpu = time.process_time() - start
    seconds = sum(e.duration for e in entries)
    return {
        "clips": len(seeds),
        "clip_seconds": round(seconds, 1),
        "cpu_s": round(write_cpu, 2),
        "clip_s_per_cpu_s": round(seconds / write_cpu, 1),
        "render_only_clip_s_per_cpu_s": round(seconds / render_cpu, 1),
        "video_kbps_mean": round(sum(kbps) / len(kbps), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips1", type=int, default=60, help="level-1 clips per repeat (2-4 s each)")
    parser.add_argument("--clips2", type=int, default=6, help="level-2 clips per repeat (20-60 s each)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    levels = {"level1": (SynthConfig(), args.clips1), "level2": (Level2Config(), args.clips2)}
    best: dict[str, dict] = {}
    for _ in range(args.repeats):
        for name, (config, n) in levels.items():
            result = bench_level(config, list(range(n)))
            if name not in best or result["clip_s_per_cpu_s"] > best[name]["clip_s_per_cpu_s"]:
                best[name] = result
    print(json.dumps({"target_clip_s_per_cpu_s": 10, **best}))


if __name__ == "__main__":
    main()
