"""Benchmark ``avseq run PIPELINE`` (default caption_and_sound) on real-sized clips against the decode floor.

Issue 21. Cases (generated once with PyAV, cached in the temp dir; ``--scale`` shrinks
every duration and frame size, e.g. 0.05 for a quick check of the script):

- ``4k``: 3840x2160, 10 s, H.264 (libx264 ultrafast) + AAC in MP4;
- ``720p``: 1280x720, 30 s, VP8 + Opus in WebM (H.264 + AAC in MP4 where PyAV lacks libvpx);
- ``1080p_10min``: 1920x1080, 10 minutes, H.264 + AAC in MP4;
- ``mix``: the clips of ../shared/media (not ``bad/``) plus 6 generated HD clips, as ONE run
  over a folder of symlinks.

``--inputs FILE...`` replaces the generated cases with one case per file. Each case runs, in
this order and in the same process: the decode floor, ``avseq run`` (fresh temp output folder,
``--overwrite``, deleted afterwards) and ``avseq probe`` on its first file (best of 3).

The floor is the ffmpeg CLI (PyAV in a child process where ffmpeg is not on PATH, or with
``--floor pyav``) producing exactly the frames the pipeline's bundles need:
``ffmpeg -threads 2 -i IN -map 0:v:0 -vf fps=R,scale=W:H -f null -`` (video) and
``ffmpeg -i IN -map 0:a:0 -vn -ar RATE -ac 1 -f null -`` (audio, files with an audio stream, when
the pipeline has a sound stage).
R, W:H and RATE come from the resolved pipeline (:func:`pipeline_needs`).

Prints one JSON line per case: input description, ``wall_s``, ``floor_s`` (video alone for
single clips, video + audio summed over files for the mix), ``ratio``, ``peak_rss_mb``
(largest VmHWM in the run's process tree, sampled from /proc), ``floor_rss_mb``,
``files_per_s``, the probe figures, ``targets`` and one ``meets`` boolean per target.
Targets: peak RSS <= 1000 MiB; ratio <= 2 for the 4k / 1080p clips (and ``--inputs`` files
of 1080 lines or more), <= 2.5 for the mix; probe <= 0.4 s and <= 200 MiB.

``--pipeline NAME|FILE`` benchmarks another pipeline the same way (e.g. ``event_labels``); each line
names it. ``--device cuda`` runs the models on the GPU and decodes with NVDEC (``avseq run --device cuda
--set stages.decode.device=cuda``), and the floor decodes with NVDEC too (``-hwaccel cuda``);
each line then carries the run's ``decode_devices`` and ``decode_fallbacks`` from summary.json,
so a file that fell back to the CPU shows. Run once per device on the same machine to compare.
Run: ``.venv/bin/python tools/bench_real.py [--scale 0.05] [--only mix] [--inputs A.mp4 B.mp4]
[--device cpu] [--pipeline event_labels]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import av

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.proc_memory import TreeMemory  # noqa: E402

PIPELINE = ROOT / "pipelines" / "caption_and_sound.yaml"
MEDIA = ROOT.parent / "shared" / "media"
CACHE = Path(tempfile.gettempdir()) / "avseq_bench"
AVSEQ = [sys.executable, "-m", "avseq"]
RSS_MB, PROBE_S, PROBE_MB = 1000.0, 0.4, 200.0


@dataclass(frozen=True)
class Needs:
    """What the pipeline's models need from a file: frame rate, largest frame (H, W), audio Hz."""

    fps: float | None
    size: tuple[int, int] | None
    sample_rate: int | None


def pipeline_needs(pipeline: Path) -> Needs:
    """The fastest rate, the largest frame size and the audio rate ``pipeline``'s branches need:
    what the decode was planned from (``needs_of``) and the mel recipe the sound stages provide."""
    from avseq.pipeline import load_pipeline

    spec = load_pipeline(pipeline)
    needs = [n for s in spec.stages if s.type == "decode_video" for n in spec.needs_of(s.id)]
    rates = [n.fps for n in needs if n.fps]
    sizes = [tuple(n.size) for n in needs if n.size]
    recipes = [spec.provided(s.id, "mel_recipe") for s in spec.stages]
    audio = [r.sample_rate for r in recipes if r is not None]
    largest = max(sizes, key=lambda hw: hw[0] * hw[1], default=None)
    return Needs(max(rates, default=None), largest, max(audio, default=None))


@dataclass(frozen=True)
class ClipSpec:
    """A generated clip: a moving test pattern (lavfi testsrc2) and a beeping sine."""

    width: int
    height: int
    seconds: float
    fps: int = 30
    codec: Literal["h264", "vp8"] = "h264"  # H.264 + AAC in MP4, or VP8 + Opus in WebM

    def scaled(self, scale: float) -> ClipSpec:
        """Frame sides (kept even, >= 16) and duration multiplied by ``scale``."""
        w, h = (2 * max(8, round(n * scale / 2)) for n in (self.width, self.height))
        return replace(self, width=w, height=h, seconds=self.seconds * scale)


CASES = {
    "4k": ClipSpec(3840, 2160, 10.0),
    "720p": ClipSpec(1280, 720, 30.0, codec="vp8"),
    "1080p_10min": ClipSpec(1920, 1080, 600.0),
}
MIX_HD = [
    ClipSpec(1280, 720, 10.0),
    ClipSpec(1920, 1080, 10.0),
    ClipSpec(1280, 720, 10.0, fps=25, codec="vp8"),
    ClipSpec(1920, 1080, 10.0, fps=25),
    ClipSpec(1280, 720, 12.0, fps=24),
    ClipSpec(1920, 1080, 8.0, codec="vp8"),
]
RATIO_TARGETS = {"4k": 2.0, "1080p_10min": 2.0}


def make_clip(spec: ClipSpec) -> Path:
    """The cached clip for ``spec`` (written on first use)."""
    from avseq.io.atomic import atomic_path

    if spec.codec == "vp8" and "libvpx" not in av.codecs_available:
        spec = replace(spec, codec="h264")
    ext = "webm" if spec.codec == "vp8" else "mp4"
    path = CACHE / f"real_{spec.width}x{spec.height}_{spec.fps}fps_{spec.seconds:g}s_{spec.codec}.{ext}"
    if not path.is_file():
        with atomic_path(path) as tmp:
            _encode(spec, tmp)
    return path


def _encode(spec: ClipSpec, path: Path) -> None:
    """Encode ``spec`` to ``path``, interleaving audio with video so the muxer buffers little."""
    dur = f"duration={spec.seconds:g}"
    src_v = av.open(f"testsrc2=size={spec.width}x{spec.height}:rate={spec.fps}:{dur}", format="lavfi")
    src_a = av.open(f"sine=frequency=440:beep_factor=4:sample_rate=48000:{dur}", format="lavfi")
    with src_v, src_a, av.open(str(path), "w") as out:
        vs = out.add_stream("libvpx" if spec.codec == "vp8" else "libx264", rate=spec.fps)
        vs.width, vs.height, vs.pix_fmt = spec.width, spec.height, "yuv420p"
        vs.codec_context.thread_count = 2
        if spec.codec == "vp8":
            vs.options, vs.bit_rate = {"quality": "realtime", "speed": "16"}, spec.width * spec.height * 3
        else:
            vs.options = {"preset": "ultrafast"}
        audio = out.add_stream("libopus" if spec.codec == "vp8" else "aac", rate=48000, layout="stereo")
        samples, clock = src_a.decode(audio=0), 0.0
        for i, frame in enumerate(src_v.decode(video=0)):
            frame.pts = None
            out.mux(vs.encode(frame))
            while clock <= (i + 1) / spec.fps and (chunk := next(samples, None)) is not None:
                clock += chunk.samples / chunk.sample_rate
                chunk.pts = None
                out.mux(audio.encode(chunk))
        out.mux(vs.encode(None))
        out.mux(audio.encode(None))


@dataclass
class Measured:
    """A child command's exit code, wall seconds and peak RSS (largest VmHWM in its tree, MiB)."""

    returncode: int
    wall_s: float
    peak_rss_mb: float
    peak_tree_mb: float


def measure(cmd: list[str], interval: float = 0.1) -> Measured:
    """Run ``cmd`` (stdout discarded, stderr passed through) while sampling its tree's memory."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    with TreeMemory(proc.pid, interval) as memory:
        proc.wait()
    wall = time.perf_counter() - start
    return Measured(proc.returncode, wall, memory.peak_rss_mb, memory.peak_tree_mb)


def floor_commands(path: Path, needs: Needs, tool: str, audio: bool, device: str = "cpu") -> list[list[str]]:
    """The video floor command (on NVDEC for ``device="cuda"``), plus the audio one when ``audio``."""
    h, w = needs.size or (-1, -1)
    if tool == "pyav":
        code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from tools.bench_real import pyav_decode; "
        run = [sys.executable, "-c", code + "pyav_decode(*sys.argv[1:])", str(path)]
        cmds = [[*run, "video", str(needs.fps or 0), str(w), str(h), device]]
        return cmds + ([[*run, "audio", str(needs.sample_rate or 0)]] if audio else [])
    base = [tool, "-nostdin", "-v", "error"]
    vf = ",".join(([f"fps={needs.fps:g}"] if needs.fps else []) + ([f"scale={w}:{h}"] if needs.size else []))
    hw = ["-hwaccel", "cuda"] if device == "cuda" else []
    video = [*base, "-threads", "2", *hw, "-i", str(path), "-map", "0:v:0", *(["-vf", vf] if vf else [])]
    cmds = [[*video, "-f", "null", "-"]]
    rate = ["-ar", str(needs.sample_rate)] if needs.sample_rate else []
    audio_cmd = [*base, "-i", str(path), "-map", "0:a:0", "-vn", *rate, "-ac", "1", "-f", "null", "-"]
    return cmds + ([audio_cmd] if audio else [])


def pyav_decode(path: str, kind: str, *args: str) -> None:
    """The floor without the ffmpeg CLI: ``video FPS W H [DEVICE]`` through fps and scale filters
    (decoded on NVDEC for DEVICE cuda), or ``audio RATE`` resampled to mono. Runs in a child
    process (see :func:`floor_commands`)."""
    from av.codec.hwaccel import HWAccel

    on_gpu = kind == "video" and len(args) > 3 and args[3] == "cuda"
    options = {"hwaccel": HWAccel("cuda", allow_software_fallback=False)} if on_gpu else {}
    with av.open(path, **options) as container:
        if kind == "audio":
            rate = int(args[0]) or None
            resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
            for frame in container.decode(container.streams.audio[0]):
                resampler.resample(frame)
            resampler.resample(None)
            return
        stream = container.streams.video[0]
        stream.thread_type, stream.codec_context.thread_count = "AUTO", 2
        fps, w, h = float(args[0]), int(args[1]), int(args[2])
        graph = av.filter.Graph()
        nodes = [graph.add_buffer(template=stream)]
        nodes += [graph.add("fps", f"{fps:g}")] if fps else []
        nodes += [graph.add("scale", f"{w}:{h}")] if w > 0 else []
        nodes.append(graph.add("buffersink"))
        for a, b in zip(nodes, nodes[1:], strict=False):
            a.link_to(b)
        graph.configure()
        for frame in itertools.chain(container.decode(stream), [None]):
            graph.push(frame)
            while True:
                try:
                    graph.pull()
                except (av.BlockingIOError, av.EOFError):
                    break


def decode_floor(paths: list[Path], needs: Needs, tool: str, device: str = "cpu") -> dict:
    """Seconds of the video and audio floors summed over ``paths``, and the largest floor RSS."""
    from avseq.io import probe

    video_s = audio_s = rss = 0.0
    for path in paths:
        has_audio = needs.sample_rate is not None and any(s.type == "audio" for s in probe(path).streams)
        for i, cmd in enumerate(floor_commands(path, needs, tool, has_audio, device)):
            m = measure(cmd, interval=0.05)
            if m.returncode != 0:
                raise RuntimeError(f"floor command failed ({m.returncode}): {' '.join(cmd)}")
            video_s, audio_s = (video_s + m.wall_s, audio_s) if i == 0 else (video_s, audio_s + m.wall_s)
            rss = max(rss, m.peak_rss_mb)
    return {"video_s": video_s, "audio_s": audio_s, "rss_mb": rss}


def run_pipeline(
    target: Path, device: str = "auto", pipeline: Path = PIPELINE
) -> tuple[Measured, dict, list[dict]]:
    """``avseq run pipeline`` over ``target`` (file or folder) into a fresh temp folder, models and
    decoding on ``device``: its figures, its summary.json and the errors of its failed inputs."""
    outdir = Path(tempfile.mkdtemp(prefix="avseq_bench_real_"))
    try:
        cmd = [*AVSEQ, "run", str(pipeline), "-i", str(target), "-o", str(outdir), "--overwrite", "--quiet"]
        if device != "auto":  # auto: the pipeline file's own devices
            cmd += ["--device", device, "--set", f"stages.decode.device={device}"]
        return measure(cmd), *_read_outcome(outdir)
    finally:
        shutil.rmtree(outdir, ignore_errors=True)


def _read_outcome(outdir: Path) -> tuple[dict, list[dict]]:
    """summary.json ({} when absent) and {id, type, message} of each failed line of results.jsonl."""
    summary_file, results_file = outdir / "summary.json", outdir / "results.jsonl"
    summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    lines = results_file.read_text().splitlines() if results_file.is_file() else []
    records = [json.loads(line) for line in lines]
    failed = [{"id": r.get("id"), **(r.get("error") or {})} for r in records if r.get("status") == "failed"]
    return summary, failed


def probe_figures(path: Path) -> dict:
    """Best wall of 3 ``avseq probe`` runs on ``path`` and their largest peak RSS."""
    runs = [measure([*AVSEQ, "probe", str(path)], interval=0.02) for _ in range(3)]
    return {
        "file": path.name,
        "wall_s": round(min(r.wall_s for r in runs), 3),
        "rss_mb": round(max(r.peak_rss_mb for r in runs), 1),
        "ok": all(r.returncode == 0 for r in runs),
    }


def describe(paths: list[Path]) -> dict:
    """Resolution, duration and codecs of each file (one file: just its own)."""
    from avseq.io import probe

    items = []
    for path in paths:
        info = probe(path)
        video = next((s for s in info.streams if s.type == "video"), None)
        audio = next((s for s in info.streams if s.type == "audio"), None)
        items.append(
            {
                "file": path.name,
                "resolution": f"{video.width}x{video.height}" if video else None,
                "seconds": info.duration,
                "codec": video.codec if video else None,
                "audio": f"{audio.codec} {audio.sample_rate} Hz" if audio else None,
            }
        )
    if len(items) == 1:
        return items[0]
    return {"files": len(items), "seconds": round(sum(i["seconds"] or 0 for i in items), 3), "items": items}


def _warm(paths: list[Path]) -> None:
    """Read every file once so neither the floor nor the run pays for a cold page cache."""
    for path in paths:
        with open(path, "rb") as f:
            while f.read(1 << 23):
                pass


@dataclass
class Case:
    """One benchmark line: its files (empty: generated when it runs), its ratio target, whether it
    is the mix (one run over a folder, floor = video + audio)."""

    name: str
    paths: list[Path]
    ratio_target: float | None
    mix: bool = False


def bench_case(
    case: Case,
    paths: list[Path],
    target: Path,
    needs: Needs,
    tool: str,
    device: str = "auto",
    pipeline: Path = PIPELINE,
) -> dict:
    """One JSON-ready line: floor, ``avseq run`` over ``target`` and ``avseq probe`` on ``paths[0]``."""
    _warm(paths)
    floor = decode_floor(paths, needs, tool, device)
    run, summary, failed = run_pipeline(target, device, pipeline)
    probe = probe_figures(paths[0])
    mix = case.mix
    floor_s = floor["video_s"] + (floor["audio_s"] if mix else 0.0)
    ratio = run.wall_s / floor_s if floor_s > 0 else None
    figures = {"peak_rss_mb": run.peak_rss_mb, "ratio": ratio, "probe_wall_s": probe["wall_s"]}
    targets, meets = judge(case.ratio_target, {**figures, "probe_rss_mb": probe["rss_mb"]})
    meets["run_ok"] = run.returncode == 0
    return {
        "name": case.name,
        "pipeline": pipeline.stem,
        "device": device,
        "input": describe(paths),
        "wall_s": round(run.wall_s, 3),
        "floor_s": round(floor_s, 3),
        "floor_kind": "video+audio" if mix else "video",
        "floor_video_s": round(floor["video_s"], 3),
        "floor_audio_s": round(floor["audio_s"], 3),
        "floor_tool": tool if tool == "pyav" else "ffmpeg",
        "ratio": None if ratio is None else round(ratio, 3),
        "peak_rss_mb": round(run.peak_rss_mb, 1),
        "peak_tree_pss_mb": round(run.peak_tree_mb, 1),
        "floor_rss_mb": round(floor["rss_mb"], 1),
        "files_per_s": round(len(paths) / run.wall_s, 4),
        "exit_code": run.returncode,
        "counts": summary.get("counts"),
        "failed": failed,
        "decode_devices": summary.get("decode_devices"),
        "decode_fallbacks": summary.get("decode_fallbacks"),
        "stage_precision": summary.get("stage_precision"),
        "batch_size": summary.get("batch_size"),
        "summary_memory": {k: v for k, v in summary.items() if "rss" in k or "memory" in k} or None,
        "probe": probe,
        "needs": {"fps": needs.fps, "size": needs.size, "sample_rate": needs.sample_rate},
        "targets": targets,
        "meets": meets,
    }


def judge(ratio_target: float | None, figures: dict[str, float | None]) -> tuple[dict, dict]:
    """The targets that apply (the ratio one only with ``ratio_target``) and whether each is met."""
    limits = {"peak_rss_mb": RSS_MB, "ratio": ratio_target, "probe_wall_s": PROBE_S, "probe_rss_mb": PROBE_MB}
    targets = {k: v for k, v in limits.items() if v is not None}
    return targets, {k: figures[k] is not None and figures[k] <= v for k, v in targets.items()}


def mix_inputs(scale: float, folder: Path) -> list[Path]:
    """Symlinks in ``folder`` to the real clips of ../shared/media (not bad/) and the generated HD ones."""
    from avseq.io.paths import is_media_name

    real = sorted(p for p in MEDIA.glob("*") if p.is_file() and is_media_name(p))
    generated = [make_clip(spec.scaled(scale)) for spec in MIX_HD]
    for i, path in enumerate([*real, *generated]):
        (folder / f"{i:02d}_{path.name}").symlink_to(path)
    return [*real, *generated]


def cases(args: argparse.Namespace) -> list[Case]:
    """Every case before ``--only``: one per ``--inputs`` file, else the generated ones and the mix."""
    from avseq.io import probe

    if args.inputs:
        out = []
        for path in args.inputs:
            video = next((s for s in probe(path).streams if s.type == "video"), None)
            tall = video is not None and min(video.width or 0, video.height or 0) >= 1080
            out.append(Case(path.stem, [path], 2.0 if tall else None))
        return out
    return [Case(name, [], RATIO_TARGETS.get(name)) for name in CASES] + [Case("mix", [], 2.5, mix=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every duration and frame side")
    parser.add_argument("--only", help="run this case alone (4k, 720p, 1080p_10min, mix, or an input's stem)")
    parser.add_argument("--inputs", type=Path, nargs="+", help="your own files, one case each")
    parser.add_argument("--floor", choices=["auto", "ffmpeg", "pyav"], default="auto", help="floor tool")
    parser.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], default="auto", help="models + decode; auto: the file's"
    )
    parser.add_argument("--pipeline", default=str(PIPELINE), help="a shipped pipeline's name or a file")
    args = parser.parse_args()
    if args.scale <= 0:
        parser.error(f"--scale must be > 0, got {args.scale}")
    tool = shutil.which("ffmpeg") if args.floor != "pyav" else "pyav"
    if tool is None:
        if args.floor == "ffmpeg":
            parser.error("--floor ffmpeg: no ffmpeg on PATH")
        tool = "pyav"
    todo = [c for c in cases(args) if args.only is None or c.name == args.only]
    if not todo:
        parser.error(f"--only {args.only!r}: no such case")
    from avseq.shipped import resolve

    pipeline = resolve("pipeline", args.pipeline)
    needs = pipeline_needs(pipeline)
    for case in todo:
        with tempfile.TemporaryDirectory(prefix="avseq_bench_mix_") as folder:
            if case.mix:
                paths, target = mix_inputs(args.scale, Path(folder)), Path(folder)
            else:
                paths = case.paths or [make_clip(CASES[case.name].scaled(args.scale))]
                target = paths[0]
            line = bench_case(case, paths, target, needs, tool, args.device, pipeline)
        print(json.dumps({"scale": args.scale, **line}), flush=True)


if __name__ == "__main__":
    main()
