"""The bundles shipped in the package: loadable by name, small, documented, and still as good as recorded.

The synthetic test split's seeds are disjoint from the training split's, so these clips were never
seen in training. The targets the shipped models meet are asserted on 64 of them: caption BLEU-4
>= 0.5 (0.90 on 200 test clips), caption attribute accuracy >= 0.9 (0.98) and sound onset F1 >= 0.8
within one video frame of the true impacts (1.00). The targets against the baselines (caption CIDEr
>= 1.5x the nearest-neighbour baseline: 5.20 against 3.00, 1.74x; sound onset F1 >= retrieval +
0.2) are checked on the bundle's recorded evaluation: its test clips are rendered again from their
seeds, `avseq eval`'s evaluation scores the model on them, and its figures must equal the recorded
ones, which clear the recorded baselines. The baselines themselves are not recomputed here: they
retrieve among the bundle's 2400 (caption) or 300 (sound) training clips, 4 minutes of rendering
and encoding on two cores; `avseq eval` on the splits `avseq synth` renders does that (the bundle
version sha256:1859c16ae424 scored 1.45x that way, which fails the caption target)."""

from __future__ import annotations

from pathlib import Path

import pytest

from avseq.bundles import list_bundled, load
from avseq.data import SynthConfig, generate_split, read_manifest
from avseq.demo import run_demo
from avseq.evaluation import evaluate_bundle
from avseq.io.audio import decode_audio
from avseq.metrics import OnsetScores, detect_onsets, onset_f1

SHIPPED = ["synth-caption", "synth-frame-caption", "synth-sound"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_bundle_loads_by_name_and_records_how_it_was_made(name):
    assert name in list_bundled()
    bundle = load(name)
    size = sum(p.stat().st_size for p in Path(bundle.path).iterdir())
    assert size < 10 * 2**20
    for key in ("train_config", "seed", "splits", "eval", "reproduce"):
        assert key in bundle.meta, f"{name} bundle.json meta lacks {key!r}"


@pytest.mark.slow
def test_shipped_models_caption_and_sonify_fresh_test_clips(tmp_path):
    result = run_demo(tmp_path / "demo", n=64, progress=False)
    scores = result.scores
    assert result.counts["ok"] == 64 and scores["clips scored"] == 64
    assert scores["BLEU-4"] >= 0.5, scores
    assert scores["attribute accuracy"] >= 0.9, scores
    entries = read_manifest(next((tmp_path / "demo" / "inputs").glob("*.jsonl")))
    per_clip = []
    for entry in entries:
        sound = decode_audio(tmp_path / "demo" / entry.id / "sound.wav")
        found = detect_onsets(sound.wave, sound.sample_rate)
        per_clip.append(onset_f1([e.time for e in entry.events], found, 1 / entry.fps))
    assert OnsetScores.total(per_clip).f1 >= 0.8, OnsetScores.total(per_clip)
    assert all((tmp_path / "demo" / f"test_{1100000 + i}" / "with_sound.mp4").exists() for i in range(64))


def _reproduce_model_row(name: str, folder: Path) -> tuple[dict, dict, SynthConfig]:
    """(the model's figures now, the recorded evaluation's systems, the world config): `avseq eval`'s
    evaluation of bundle ``name`` on its recorded test clips, rendered again from their seeds; the
    baselines get 4 training clips only, as their figures here are not compared (the model's row
    does not depend on them)."""
    meta = load(name).meta
    config = SynthConfig(**meta["train_config"]["data"]["synth"])
    generate_split(folder, "train", 4, config, workers=2, progress=False)
    generate_split(folder, "test", meta["eval"]["clips"], config, workers=2, progress=False)
    report = evaluate_bundle(name, folder, folder / "report.json", baseline_clips=4, progress=False)
    return report["systems"]["model"], meta["eval"]["systems"], config


def _same_figures(now: dict, recorded: dict, path: str = "") -> None:
    """Every number in ``recorded`` (nested) equal in ``now``, to float32 rounding."""
    for key, value in recorded.items():
        if isinstance(value, dict):
            _same_figures(now[key], value, f"{path}{key}.")
        elif isinstance(value, float):
            assert now[key] == pytest.approx(value, rel=1e-5, abs=1e-6), f"{path}{key}"


@pytest.mark.slow
def test_shipped_caption_model_reproduces_its_figures_and_beats_the_nearest_neighbour_by_the_target(tmp_path):
    """CIDEr >= 1.5x the nearest-neighbour baseline on 200 test clips (the caption of the training
    clip whose mean-pooled features by the bundle's encoder are nearest, among the 2400 clips the
    bundle was trained on), BLEU-4 >= 0.5 and attribute accuracy >= 0.9, with the model's figures
    as recorded."""
    model, recorded, _ = _reproduce_model_row("synth-caption", tmp_path)
    _same_figures(model, recorded["model"])
    assert model["CIDEr"] >= 1.5 * recorded["nearest_neighbour"]["CIDEr"], (
        model,
        recorded["nearest_neighbour"],
    )
    assert model["BLEU-4"] >= 0.5 and model["attributes"]["mean"] >= 0.9, model


@pytest.mark.slow
def test_shipped_sound_model_reproduces_its_figures_and_meets_its_targets_against_the_baselines(tmp_path):
    """On the recorded evaluation's 200 test clips: onset F1 within one frame >= 0.8 and >= 0.2
    above the retrieval baseline (the audio of the nearest of 300 training clips), median |sync
    offset| within one video frame, and log-spectral distance below the mean-log-mel baseline's,
    with the model's figures as recorded."""
    model, recorded, config = _reproduce_model_row("synth-sound", tmp_path)
    _same_figures(model, recorded["model"])
    retrieval, mean_mel = recorded["retrieval"], recorded["mean_mel"]
    f1 = model["onset_frame"]["f1"]
    assert f1 >= 0.8 and f1 >= retrieval["onset_frame"]["f1"] + 0.2, (model, retrieval)
    assert model["sync_median_abs_ms"] <= 1000 / config.fps, model
    assert model["lsd_db"] < mean_mel["lsd_db"], (model, mean_mel)


@pytest.mark.slow
def test_shipped_frame_captioner_reproduces_its_recorded_evaluation(tmp_path):
    """The one-to-many captioner (one frame in, a caption out) on its recorded evaluation's test
    clips, rendered again from their seeds: the same figures as recorded, and what a still shows
    (colour, the pose that tells the action) named right on at least 9 clips in 10."""
    assert load("synth-frame-caption").kind == "frame_caption"
    model, recorded, _ = _reproduce_model_row("synth-frame-caption", tmp_path)
    _same_figures(model, recorded["model"])
    assert model["attributes"]["colour"] >= 0.9 and model["attributes"]["action"] >= 0.9, model["attributes"]
