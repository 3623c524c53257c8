"""The domain check of ``avseq run`` with the shipped bundles: fresh clips of the synthetic world
they were trained on pass, real footage (../shared/media, skipped when absent) and generated clips
that look nothing like that world are flagged; the results line, summary.json, the one warning on
stderr and the report's badge say so."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from avseq.bundles import load
from avseq.data.synth import SynthConfig, generate_split
from avseq.io import write_video
from avseq.pipeline import expand_inputs, load_pipeline, run_pipeline
from avseq.pipeline.domain import DomainScore, file_domain
from avseq.report import write_report
from tests.conftest import SHARED_MEDIA
from tests.pipeline.pipeline_helpers import read_results

FRESH = 100
OFFSET = 90_000  # test seeds 1,190,000..: used neither in training nor to set the bundles' thresholds
BUNDLES = ("synth-caption", "synth-frame-caption", "synth-sound")


def gradient_clip(path: Path, seconds: float = 2.0, fps: int = 15, size=(72, 96)) -> Path:
    """Smooth colour ramps, one of them drifting sideways."""
    h, w = size
    t = np.arange(int(seconds * fps))[:, None, None]
    y, x = np.linspace(0, 1, h)[None, :, None], np.linspace(0, 1, w)[None, None, :]
    r = (0.5 + 0.5 * np.sin(2 * np.pi * (x + 0.05 * t))) * 255
    g, b = y * 255 + 0 * t, (1 - x) * (1 - y) * 255 + 0 * t
    return write_video(path, np.stack(np.broadcast_arrays(r, g, b), axis=-1).astype(np.uint8), fps=fps)


def pink_noise_clip(path: Path, seconds: float = 2.0, fps: int = 15, size=(72, 96), seed: int = 0) -> Path:
    """Colour noise with a natural image's 1/f spectrum, panning."""
    rng = np.random.default_rng(seed)
    h, w = size
    amplitude = 1 / np.maximum(
        np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]), 1 / max(h, w)
    )
    image = np.real(
        np.fft.ifft2((rng.standard_normal((3, h, w)) + 1j * rng.standard_normal((3, h, w))) * amplitude)
    )
    image = (image - image.mean()) / image.std()
    frames = [
        np.clip(128 + 40 * np.roll(image, k, axis=2), 0, 255).transpose(1, 2, 0)
        for k in range(int(seconds * fps))
    ]
    return write_video(path, np.stack(frames).astype(np.uint8), fps=fps)


def checking_pipeline(folder: Path) -> Path:
    """Every shipped bundle's encoder at the least cost: greedy captions of three words (a clip's,
    a still's) and the features of synth-sound's encoder."""
    stages = [
        {"id": "decode", "type": "decode_video"},
        {"id": "frames", "type": "frames", "input": "decode"},
        {"id": "caption", "type": "caption", "input": "frames",
         "params": {"bundle": "synth-caption", "search": "greedy", "max_len": 3}},
        {"id": "captions", "type": "write_captions", "input": "caption", "params": {"formats": ["json"]}},
        {"id": "still_frames", "type": "frames", "input": "decode"},
        {"id": "still", "type": "caption", "input": "still_frames",
         "params": {"bundle": "synth-frame-caption", "search": "greedy", "max_len": 3}},
        {"id": "still_captions", "type": "write_captions", "input": "still", "params": {"formats": ["vtt"]}},
        {"id": "encode", "type": "encode_frames", "input": "frames", "params": {"bundle": "synth-sound"}},
        {"id": "features", "type": "write_features", "input": "encode"},
    ]  # fmt: skip
    doc = {"version": 1, "device": "cpu", "batch_size": 16, "workers": 2, "timeout": 120, "stages": stages}
    path = folder / "check.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """{"world": manifest of FRESH fresh synthetic clips, "unlike": folder of generated clips}."""
    root = tmp_path_factory.mktemp("domain-inputs")
    world = SynthConfig(**load("synth-sound").meta["train_config"]["data"]["synth"])
    manifest = generate_split(
        root / "synth", "test", FRESH, world, seed_offset=OFFSET, workers=2, progress=False
    )
    (root / "unlike").mkdir()
    gradient_clip(root / "unlike" / "gradient.mp4")
    pink_noise_clip(root / "unlike" / "pink_noise.mp4")
    return {"world": manifest, "unlike": root / "unlike", "root": root}


@pytest.fixture(scope="module")
def checked(inputs) -> tuple[Path, dict[str, dict]]:
    """One run over every input (the real clips too when ../shared/media is there): OUTDIR, records by id."""
    out = inputs["root"] / "out"
    args = [inputs["world"], inputs["unlike"]] + ([SHARED_MEDIA] if SHARED_MEDIA.is_dir() else [])
    run_pipeline(load_pipeline(checking_pipeline(inputs["root"])), expand_inputs(args), out, progress=False)
    return out, {r["id"]: r for r in read_results(out)}


def _world(records: dict[str, dict]) -> list[dict]:
    return [r for i, r in records.items() if i.startswith("test_")]


def test_fresh_clips_of_the_training_world_pass(checked):
    _, records = checked
    world = _world(records)
    assert len(world) == FRESH and all(r["status"] == "ok" for r in world)
    flagged = [r["id"] for r in world if r["domain"] == "out"]
    assert len(flagged) <= FRESH // 100, flagged  # at most 1%
    assert all(set(r["domain_scores"]) == set(BUNDLES) for r in world)


def test_generated_clips_unlike_the_world_are_flagged(checked):
    _, records = checked
    for clip in ("gradient", "pink_noise"):
        assert records[clip]["domain"] == "out", records[clip]
        assert all(ratio > 1 for ratio in records[clip]["domain_scores"].values()), records[clip]


@pytest.mark.media
def test_every_real_clip_is_flagged(checked, shared_media):
    _, records = checked
    real = [
        r
        for r in records.values()
        if r["input"].startswith(str(shared_media.resolve())) and r["status"] == "ok"
    ]
    assert len(real) >= 8
    for r in real:
        assert r["domain"] == "out" and min(r["domain_scores"].values()) > 1, (r["id"], r["domain_scores"])
    failed = [r for r in records.values() if r["status"] == "failed"]
    assert failed and all(r["domain"] is None and r["domain_scores"] == {} for r in failed)


def test_the_results_line_and_the_summary_say_it(checked):
    out, records = checked
    for r in records.values():
        if r["status"] == "ok":
            assert r["domain_score"] == max(r["domain_scores"].values())
            assert r["domain"] == ("out" if r["domain_score"] > 1 else "in")
    summary = json.loads((out / "summary.json").read_text())["domain"]
    ok = [r for r in records.values() if r["status"] == "ok"]
    assert summary["out"] == sum(r["domain"] == "out" for r in ok)
    assert summary["in"] + summary["out"] == len(ok)
    assert summary["flagged_by"] == list(BUNDLES)


def test_the_report_shows_a_badge_per_clip(checked):
    out, records = checked
    html = write_report(out).read_text()
    n_out = sum(r["domain"] == "out" for r in records.values())
    n_in = sum(r["domain"] == "in" for r in records.values())
    # per clip: in the index, beside the section's heading, and in its Domain paragraph
    assert (html.count("class='badge domain-out'"), html.count("class='badge domain-in'")) == (
        3 * n_out,
        3 * n_in,
    )
    assert "domain check</td><td>" in html and "out of the domain the models were trained on" in html


def test_avseq_run_warns_once_on_stderr_when_inputs_are_out_of_domain(invoke, inputs, tmp_path):
    one_of_each = [
        inputs["root"] / "synth" / "test" / f"test_{1_100_000 + OFFSET:07d}.mp4",
        inputs["unlike"] / "gradient.mp4",
    ]
    pipeline = checking_pipeline(tmp_path)
    args = ["run", pipeline, "-o", tmp_path / "out", "--quiet"]
    done = invoke(*args, *[a for clip in one_of_each for a in ("-i", clip)])
    assert done.exit_code == 0, done.output
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: 1 of 2 inputs is out of domain: far from the clips synth-caption, synth-frame-caption "
        "and synth-sound were "
        "trained on, so the outputs say little about it (domain: out in results.jsonl; `avseq bundles` "
        "shows what each model knows)"
    ]
    done = invoke("run", pipeline, "-o", tmp_path / "in", "--quiet", "-i", one_of_each[0])
    assert done.exit_code == 0 and "warning" not in done.stderr


def test_a_file_in_windows_scores_as_a_whole(inputs, tmp_path):
    """Windows are scored apart and weighed by their frames: synth-sound's encoder sees each frame
    alone, so cutting the clip into 1 s windows changes nothing."""
    clip = inputs["root"] / "synth" / "test" / f"test_{1_100_000 + OFFSET:07d}.mp4"
    scores = []
    for window in (None, 1.0):
        spec = load_pipeline(
            checking_pipeline(tmp_path), [f"stages.decode.params.window={window}"] if window else []
        )
        out = tmp_path / f"out-{window}"
        run_pipeline(spec, expand_inputs([clip]), out, progress=False)
        scores.append(read_results(out)[0]["domain_scores"]["synth-sound"])
    assert scores[1] == pytest.approx(scores[0], rel=1e-3, abs=1e-4)


def test_a_file_s_score_weighs_its_windows_by_their_frames():
    windows = [
        [DomainScore("a", 2.0, 4.0, 10), DomainScore("b", 1.0, 2.0, 10)],
        [DomainScore("a", 8.0, 4.0, 30), DomainScore("b", 1.0, 2.0, 30)],
    ]
    assert file_domain(windows) == {
        "domain": "out",
        "domain_score": 1.625,
        "domain_scores": {"a": 1.625, "b": 0.5},
    }
    assert file_domain([[], []]) == {}
