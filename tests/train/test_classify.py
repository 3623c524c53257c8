"""Classify and frame_caption systems train from configs: labels from level-1 clips' attributes
and level-2 event spans, class lists saved in the bundle, ``avseq eval`` with its baselines."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from avseq.errors import ConfigError
from avseq.train import checkpoints, train
from avseq.train.config import config_from_dict
from tests.train.conftest import TINY_DATA

ENCODER = {"name": "compact", "out_dim": 16, "width": 8, "depth": 2, "frozen": True}
TRAIN = {"steps": 3, "batch_size": 2, "val_every": 3, "log_every": 1, "progress": False, "threads": 1}
LEVEL2 = {
    # 6-8 s with 3-4 events: each clip has an event no other covers (those are the examples)
    "synth": {"level": 2, "width": 48, "height": 32, "min_duration": 6.0, "max_duration": 8.0,
              "min_events": 3, "max_events": 4},
    "splits": {"train": {"clips": 2}, "val": {"clips": 1}, "test": {"clips": 1}},
}  # fmt: skip


def classify_config(tmp_path, data: dict, **model) -> dict:
    return {
        "data": {**data, "root": str(tmp_path / "data")},
        "preprocessing": {"fps": 4, "frame_size": [32, 32]},
        "system": {"kind": "classify", "encoder": ENCODER, "model": {"hidden_size": 8, **model}},
        "optim": {"lr": 0.003, "warmup_steps": 1},
        "train": TRAIN,
        "output_dir": str(tmp_path / "run"),
    }


def best_bundle(result):
    return checkpoints.resolve(result.run_dir, "best") / checkpoints.BUNDLE


@pytest.fixture(scope="module")
def level1_run(tmp_path_factory):
    """(config, result) of three classify steps on tiny level-1 clips, with a test split."""
    tmp = tmp_path_factory.mktemp("classify1")
    data = {**TINY_DATA, "splits": {**TINY_DATA["splits"], "test": {"clips": 2}}}
    raw = classify_config(tmp, data, cell="gru", bidirectional=True, pooling="last")
    raw["data"]["attributes"] = ["colour", "shape", "count"]
    cfg = config_from_dict(raw, "<classify level 1>")
    return cfg, train(cfg)


def test_classify_trains_on_level_1_clips_and_the_bundle_carries_its_classes(level1_run):
    from avseq.bundles import load
    from avseq.bundles.document import read_document
    from avseq.data import read_manifest
    from avseq.train.logs import LOG_NAME, read_rows

    cfg, result = level1_run
    assert cfg.val_metric == "attr_acc" and result.metric == "attr_acc" and result.step == 3
    assert {"val_loss", "attr_acc", "acc/colour", "acc/shape", "acc/count"} <= set(result.last_val)
    accs = [result.last_val[f"acc/{a}"] for a in ("colour", "shape", "count")]
    assert result.last_val["attr_acc"] == pytest.approx(sum(accs) / 3)
    rows = read_rows(result.run_dir / LOG_NAME)
    assert all(torch.isfinite(torch.tensor(float(r["loss"]))) for r in rows if r.get("loss"))
    assert any(r.get("acc/count") for r in rows)
    folder = best_bundle(result)
    # the class lists, read from bundle.json alone (no torch needed), are the training clips' values
    attributes = read_document(folder)["system"]["config"]["model"]["attributes"]
    train_entries = read_manifest(cfg.data.root / "train.jsonl")
    assert list(attributes) == ["colour", "count", "shape"]  # by name, as the logits are ordered
    assert attributes["colour"] == sorted({e.attributes["colour"] for e in train_entries})
    assert attributes["count"] == sorted({str(e.attributes["count"]) for e in train_entries})
    bundle = load(str(folder))
    assert bundle.kind == "classify" and bundle.system.attributes == {
        k: tuple(v) for k, v in attributes.items()
    }
    (probs,) = bundle.system.probabilities_from_features(torch.zeros(1, 3, 16), torch.tensor([3]))
    assert set(probs) == set(attributes) and sum(probs["shape"].values()) == pytest.approx(1.0)


def test_eval_of_a_classify_bundle_prints_each_attribute_beside_the_baselines(level1_run, tmp_path):
    from click.testing import CliRunner

    from avseq.cli import main

    cfg, result = level1_run
    report = tmp_path / "report.json"
    out = CliRunner().invoke(
        main,
        ["eval", str(best_bundle(result)), "--data", str(cfg.data.root), "--split", "test",
         "--device", "cpu", "-o", str(report)],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    doc = json.loads(report.read_text())
    assert doc["kind"] == "classify" and doc["clips"] == 2
    assert set(doc["systems"]) == {"model", "majority", "nearest_neighbour"}
    for figures in doc["systems"].values():
        assert set(figures["attributes"]) == {"colour", "shape", "count"}
        assert figures["mean"] == pytest.approx(sum(figures["attributes"].values()) / 3)
    for label in ("mean", "colour", "shape", "count"):
        assert label in out.output
    rows = (tmp_path / "report_clips" / "labels.jsonl").read_text().splitlines()
    assert len(rows) == 2 and set(json.loads(rows[0])) >= {"id", "reference", "model", "majority"}


def test_classify_trains_on_level_2_event_spans(tmp_path):
    from avseq.bundles import load
    from avseq.data import read_manifest
    from avseq.data.datasets import labelled_spans

    raw = classify_config(tmp_path, LEVEL2)
    raw["train"] = {**TRAIN, "saturation_every": 1}  # the gate probes run on classify batches too
    cfg = config_from_dict(raw, "<classify level 2>")
    result = train(cfg)
    assert result.step == 3 and 0.0 <= result.last_val["attr_acc"] <= 1.0
    summary = json.loads((result.run_dir / "summary.json").read_text())
    entries = read_manifest(cfg.data.root / "train.jsonl")
    events = sum(len(labelled_spans(e, cfg.attributes)) for e in entries)
    spans = sum(1 for e in entries for ev in e.events if ev.end is not None)
    assert summary["train_clips"] == events and 0 < events <= spans  # one example per clear event span
    bundle = load(str(best_bundle(result)))
    assert list(bundle.system.attributes) == ["action", "colour", "material", "shape"]
    actions = {e.action for entry in entries for e in entry.events}
    assert set(bundle.system.attributes["action"]) == actions
    # avseq eval scores the same examples: one per clear event span of each test clip, ids with #k
    from avseq.evaluation import evaluate_bundle

    bundle_dir = str(best_bundle(result))
    report = evaluate_bundle(bundle_dir, cfg.data.root, tmp_path / "report.json", progress=False)
    spans = sum(len(labelled_spans(e, cfg.attributes)) for e in read_manifest(cfg.data.root / "test.jsonl"))
    rows = [json.loads(x) for x in (tmp_path / "report_clips" / "labels.jsonl").read_text().splitlines()]
    assert report["kind"] == "classify" and len(rows) == spans > 0
    assert all("#" in r["id"] for r in rows)
    assert set(report["systems"]["model"]["attributes"]) == set(cfg.attributes)


def test_the_classify_dataset_cuts_each_event_span_and_labels_it(tmp_path):
    from avseq.bundles import Preprocessing
    from avseq.data.collate import collate_classify
    from avseq.data.datasets import IGNORE_LABEL, ClassifyDataset
    from avseq.data.manifest import Event, ManifestEntry

    events = (
        Event(0.5, "ball", "metal", "floor_hit", 1.0, end=1.5, action="bounce", colour="red"),
        Event(1.0, "cube", "wood", "stick_hit", 1.0, end=2.0, action="struck", colour="blue"),
    )
    clip = ManifestEntry(tmp_path / "x.mp4", "x", events=events)
    whole = ManifestEntry(tmp_path / "y.mp4", "y", attributes={"material": "glass", "action": "slide"})
    prep = Preprocessing.from_dict({"fps": 4, "frame_size": [8, 8]})
    classes = {"material": ["metal", "wood"], "action": ["bounce", "slide", "struck"]}
    ds = ClassifyDataset([clip, whole], prep, classes)
    assert len(ds) == 3 and [ds.item_id(i) for i in range(3)] == ["x#0", "x#1", "y"]
    features = torch.arange(12.0)[:, None].expand(12, 5)  # cached features: 12 frames, 3 s at 4 fps
    first, second = ds.make_example(0, features), ds.make_example(1, features)
    assert first.video[:, 0].tolist() == [2, 3, 4, 5] and second.video[:, 0].tolist() == [4, 5, 6, 7]
    assert first.labels.tolist() == [0, 0] and second.labels.tolist() == [1, 2]
    third = ds.make_example(2, features)  # a level-1 clip: whole; glass is no training class
    assert len(third.video) == 12 and third.labels.tolist() == [IGNORE_LABEL, 1]
    batch = collate_classify([first, third])
    assert batch.labels.shape == (2, 2) and batch.video.lengths.tolist() == [4, 12]


def test_data_attributes_belong_to_classify_and_must_occur(tmp_path):
    from avseq.data.datasets import attribute_classes
    from avseq.data.manifest import ManifestEntry

    raw = classify_config(tmp_path, TINY_DATA)
    raw["system"] = {"kind": "sound", "encoder": ENCODER}
    raw["data"]["attributes"] = ["colour"]
    with pytest.raises(ConfigError, match="data.attributes names what a classify model predicts"):
        config_from_dict(raw, "<bad>")
    entry = ManifestEntry(tmp_path / "x.mp4", "x", attributes={"colour": "red"})
    with pytest.raises(ConfigError, match=r"attribute 'mood' has no value in any training clip; .*colour"):
        attribute_classes([entry], ["colour", "mood"])


def test_frame_caption_trains_like_caption(tmp_path):
    from avseq.bundles import load

    raw = {
        "data": {**TINY_DATA, "root": str(tmp_path / "data")},
        "preprocessing": {"fps": 4, "frame_size": [32, 32]},
        "system": {"kind": "frame_caption", "encoder": {**ENCODER, "frozen": False},
                   "model": {"hidden_size": 8, "embed_dim": 8}},
        "optim": {"lr": 0.003, "warmup_steps": 1},
        "train": {**TRAIN, "beam_size": 1, "max_caption_len": 6, "captions_per_clip": 2},
        "output_dir": str(tmp_path / "run"),
    }  # fmt: skip
    cfg = config_from_dict(raw, "<frame caption>")
    assert cfg.val_metric == "CIDEr"
    result = train(cfg)
    assert result.step == 3 and {"val_loss", "BLEU-4", "CIDEr"} <= set(result.last_val)
    bundle = load(str(best_bundle(result)))
    assert bundle.kind == "frame_caption" and bundle.tokenizer is not None
    clip = next((cfg.data.root / "val").glob("*.mp4"))
    stages = [
        {"id": "decode", "type": "decode_video"},
        {"id": "frames", "type": "frames", "input": "decode"},
        {"id": "caption", "type": "caption", "input": "frames",
         "params": {"bundle": str(best_bundle(result)), "search": "greedy", "max_len": 6}},
        {"id": "captions", "type": "write_captions", "input": "caption", "params": {"formats": ["json"]}},
    ]  # fmt: skip
    line = run_stages(tmp_path, stages, clip)
    doc = json.loads((tmp_path / "out" / clip.stem / "caption.json").read_text())
    assert line["captions"] == doc["captions"] and len(doc["captions"]) == 1


def test_a_trained_classify_bundle_runs_in_a_pipeline(level1_run, tmp_path):
    cfg, result = level1_run
    clip = next((cfg.data.root / "test").glob("*.mp4"))
    stages = [
        {"id": "decode", "type": "decode_video"},
        {"id": "frames", "type": "frames", "input": "decode"},
        {
            "id": "classify",
            "type": "classify",
            "input": "frames",
            "params": {"bundle": str(best_bundle(result))},
        },
        {"id": "labels", "type": "write_labels", "input": "classify"},
    ]
    run_stages(tmp_path, stages, clip)
    doc = json.loads((tmp_path / "out" / clip.stem / "labels.json").read_text())
    assert set(doc["attributes"]) == {"colour", "count", "shape"} and len(doc["windows"]) == 1


def run_stages(tmp_path, stages: list[dict], clip) -> dict:
    """Run a pipeline of ``stages`` over ``clip`` into tmp_path/out; its results line (status ok)."""
    import yaml

    from avseq.pipeline import expand_inputs, load_pipeline, run_pipeline

    doc = {"version": 1, "device": "cpu", "batch_size": 2, "workers": 1, "timeout": 30, "stages": stages}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    run_pipeline(load_pipeline(path), expand_inputs([clip]), tmp_path / "out", progress=False)
    (line,) = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert line["status"] == "ok", line
    return line


@pytest.mark.parametrize("name", ["classify_level2", "dense_level2", "frame_caption_synth", "sound_level2"])
def test_the_shipped_configs_train_a_few_steps_at_a_tiny_size(name, tmp_path):
    from avseq.bundles import load
    from avseq.train.config import load_config

    tiny = [
        f"data.root={tmp_path / 'data'}", f"output_dir={tmp_path / 'run'}",
        "data.splits.train.clips=2", "data.splits.val.clips=1", "data.splits.test.clips=1",
        "data.synth.width=32", "data.synth.height=32", "preprocessing.frame_size=[32, 32]",
        "system.encoder.width=4", "system.encoder.depth=2", "system.encoder.out_dim=8",
        "system.model.hidden_size=8", "train.steps=2", "train.val_every=2", "train.batch_size=2",
        "train.threads=1", "train.progress=false", "train.beam_size=1", "optim.warmup_steps=1",
    ]  # fmt: skip
    if name.endswith("_level2"):
        tiny += ["data.synth.min_duration=6", "data.synth.max_duration=8", "data.synth.max_events=4",
                 "train.freeze_encoder_at=1"]  # fmt: skip
    if name == "classify_level2":  # a CNN beside a grounded encoder: the list at a tiny size
        tiny = [t for t in tiny if not t.startswith("system.encoder.")] + [
            "system.encoder=[{name: compact, out_dim: 8, width: 4, depth: 2, pool: grid, motion: true},"
            " {name: grounded, out_dim: 8, crop: 8, width: 4, locator_width: 4, temporal: 1}]"
        ]
    cfg = load_config(name, tiny)
    result = train(cfg)
    assert result.step == 2
    assert load(str(best_bundle(result))).kind == cfg.kind


def test_classify_examples_carry_where_the_events_object_is(tmp_path):
    from avseq.bundles import Preprocessing
    from avseq.data.collate import collate_classify
    from avseq.data.datasets import ClassifyDataset
    from avseq.data.manifest import Event, ManifestEntry
    from avseq.types import Frames

    # a track at 10 fps from 0.5 s to 1.4 s, moving right by 0.01 of the width per frame
    track = tuple((0.5 + k / 10, 0.2 + k / 100, 0.6) for k in range(10))
    events = (
        Event(0.5, "ball", "metal", "floor_hit", 1.0, end=1.5, action="bounce", track=track),
        Event(2.0, "cube", "wood", "stick_hit", 1.0, end=2.75, action="struck"),  # no track
    )
    ds = ClassifyDataset(
        [ManifestEntry(tmp_path / "x.mp4", "x", events=events)],
        Preprocessing.from_dict({"fps": 4, "frame_size": [8, 8]}),
        {"action": ["bounce", "struck"]},
    )
    video = Frames(torch.zeros(12, 3, 8, 8), torch.arange(12, dtype=torch.float64) / 4)  # 3 s at 4 fps
    first, second = ds.make_example(0, video), ds.make_example(1, video)
    # frames at 0.5, 0.75, 1.0, 1.25 s: the track's x interpolated there, its y throughout
    assert first.positions[:, 0].tolist() == pytest.approx([0.2, 0.225, 0.25, 0.275])
    assert first.positions[:, 1].tolist() == pytest.approx([0.6] * 4)
    assert second.positions.isnan().all() and second.positions.shape == (3, 2)
    batch = collate_classify([first, second])
    assert batch.positions.shape == (2, 4, 2) and batch.positions[0].isfinite().all()
    assert batch.positions[1].isnan().all()  # unknown, and padded
    assert collate_classify([second, second]).positions is None  # nothing to learn where from
    assert ds.make_example(0, torch.zeros(12, 5)).positions is None  # cached features: no frames


def test_a_grounded_classifier_learns_where_from_level_2_tracks(tmp_path):
    from avseq.bundles import load
    from avseq.data import read_manifest
    from avseq.data.collate import collate_classify
    from avseq.data.datasets import ClassifyDataset
    from avseq.models.grounding import GroundedEncoder
    from avseq.train.steps import LossOptions, batch_loss

    raw = classify_config(tmp_path, LEVEL2)
    raw["system"]["encoder"] = [
        {**ENCODER, "frozen": False},
        {"name": "grounded", "out_dim": 8, "crop": 8, "window": 1, "width": 8},
    ]
    raw["train"] = {**TRAIN, "steps": 4, "val_every": 4, "freeze_encoder_at": 2}
    cfg = config_from_dict(raw, "<grounded classify>")
    result = train(cfg)
    assert result.step == 4 and 0.0 <= result.last_val["attr_acc"] <= 1.0
    bundle = load(str(best_bundle(result)))
    (grounded,) = [m for m in bundle.system.encoder.modules() if isinstance(m, GroundedEncoder)]
    # the locator's loss is part of a training batch's loss while the encoder trains
    system = bundle.system.train()
    assert grounded.training and not grounded.frozen
    classes = {k: list(v) for k, v in bundle.system.attributes.items()}
    train_set = ClassifyDataset(read_manifest(cfg.data.root / "train.jsonl"), bundle.preprocessing, classes)
    batch = collate_classify([train_set[0], train_set[1]])
    assert batch.positions is not None and batch.positions.isfinite().any()
    torch.manual_seed(0)
    with_locator = batch_loss(system, batch, LossOptions())
    torch.manual_seed(0)
    without = batch_loss(system, batch, LossOptions(locator_ce=0.0))
    assert float(with_locator.detach()) > float(without.detach()) > 0
    # tools/locator_accuracy.py scores the bundle's locator on the clips' tracks
    from tools.locator_accuracy import measure

    scored = measure(str(best_bundle(result)), str(cfg.data.root / "val.jsonl"))
    assert scored["frames"] > 0 and 0 <= scored["within"] <= 1
    assert set(scored["by_action"]) <= {"bounce", "slide", "struck"}
    assert sum(a["frames"] for a in scored["by_action"].values()) == scored["frames"]


def test_locator_accuracy_counts_the_frames_in_view_and_the_distances_there(tmp_path):
    from tools.locator_accuracy import distances, summary

    picked = torch.tensor([[10.0, 10.0], [10.0, 10.0], [50.0, 5.0], [0.0, 0.0]])
    # (x, y) fractions of a 40 x 80 (height x width) frame: 10 px right; on it; 45 px off; out of view
    positions = torch.tensor([[0.25, 0.25], [0.125, 0.25], [0.0625, 0.125], [1.5, 0.5]])
    assert distances(picked, positions, (40, 80)).tolist() == pytest.approx([10.0, 0.0, 45.0])
    result = summary([np.array([10.0, 0.0, 45.0]), np.array([1.0]), np.zeros(0)], within=6)
    assert result == {"frames": 4, "median_px": 5.5, "within": 0.5, "events": 2, "events_mostly_within": 0.5}
    assert summary([np.zeros(0)], within=6) == {"frames": 0, "events": 0}
