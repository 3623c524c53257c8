"""Dense captioning trains from level-2 manifests: events with spans and captions."""

from __future__ import annotations

import json

import pytest
import torch

from avseq.errors import ConfigError
from avseq.train import train
from avseq.train.config import config_from_dict

LEVEL2 = {
    "synth": {"level": 2, "width": 48, "height": 32, "min_duration": 4.0, "max_duration": 5.0,
              "min_events": 2, "max_events": 3},
    "splits": {"train": {"clips": 2}, "val": {"clips": 1}},
}  # fmt: skip


@pytest.fixture(scope="module")
def dense_run(tmp_path_factory):
    """(config, train result) of a tiny dense captioning run of three steps on level-2 clips."""
    cfg = config_from_dict(_config(tmp_path_factory.mktemp("dense")), "<dense>")
    return cfg, train(cfg)


def _config(tmp_path, **train_options) -> dict:
    return {
        "data": {**LEVEL2, "root": str(tmp_path / "data")},
        "preprocessing": {"fps": 4, "frame_size": [32, 32]},
        "system": {
            "kind": "dense_caption",
            "encoder": {"name": "compact", "out_dim": 16, "width": 8, "depth": 2, "frozen": True},
            "model": {"hidden_size": 16, "embed_dim": 8, "proposal_hidden": 8},
        },
        "optim": {"lr": 0.003, "warmup_steps": 1},
        "train": {"steps": 3, "batch_size": 2, "val_every": 3, "log_every": 1, "progress": False,
                  "threads": 1, "beam_size": 1, "max_caption_len": 8, **train_options},
        "output_dir": str(tmp_path / "run"),
    }  # fmt: skip


def test_a_dense_caption_system_trains_a_few_steps_on_level_2_clips(dense_run):
    from avseq.bundles import load
    from avseq.train import checkpoints
    from avseq.train.logs import LOG_NAME, read_rows

    cfg, result = dense_run
    assert cfg.val_metric == "event_f1"
    assert result.step == 3 and result.metric == "event_f1"
    rows = read_rows(result.run_dir / LOG_NAME)
    losses = [float(r["loss"]) for r in rows if r.get("loss")]
    assert len(losses) == 3 and all(torch.isfinite(torch.tensor(losses)))
    assert {"event_precision", "event_recall", "event_f1", "CIDEr", "val_loss"} <= set(result.last_val)
    folder = checkpoints.resolve(result.run_dir, "best")
    bundle = load(str(folder / checkpoints.BUNDLE))
    assert bundle.kind == "dense_caption" and bundle.system.kind == "dense_caption"


def test_the_dense_dataset_turns_event_times_into_frame_spans(tmp_path):
    from avseq.bundles import Preprocessing
    from avseq.data.collate import collate_dense
    from avseq.data.datasets import DenseCaptionDataset
    from avseq.data.manifest import Event, ManifestEntry
    from avseq.models import Tokenizer

    events = (
        Event(0.5, "ball", "metal", "floor_hit", 1.0, end=1.5, captions=("a ball bounces",)),
        Event(
            1.0, "cube", "wood", "stick_hit", 1.0, end=2.0, captions=("a stick hits a cube", "a cube is hit")
        ),
        Event(2.5, "cube", "wood", "floor_hit", 1.0),  # a level-1 style event: no span, not trained on
    )
    entry = ManifestEntry(tmp_path / "x.mp4", "x", events=events)
    tok = Tokenizer.build(["a ball bounces", "a stick hits a cube", "a cube is hit"])
    prep = Preprocessing.from_dict({"fps": 4, "frame_size": [8, 8]})
    ds = DenseCaptionDataset([entry], prep, tok, "first")
    example = ds.make_example(0, torch.zeros(12, 5))  # cached features: 12 frames (3 s at 4 fps)
    assert example.spans == ((2, 5), (4, 7)) and example.times == ((0.5, 1.5), (1.0, 2.0))
    assert example.targets == ("a ball bounces", "a stick hits a cube")
    batch = collate_dense([example, example], pad_id=tok.pad_id)
    assert batch.spans.tolist() == [[0, 2, 5], [0, 4, 7], [1, 2, 5], [1, 4, 7]]
    assert batch.labels.shape == (2, 12, 3) and batch.labels[0, :, 1].sum() == 6  # frames 2..7
    assert batch.tokens.shape[0] == 4 and batch.events[1][1][:2] == (1.0, 2.0)
    bare = ManifestEntry(tmp_path / "y.mp4", "y", events=events[2:])
    with pytest.raises(ConfigError, match="clip 'y' .*has no events with an end and captions"):
        DenseCaptionDataset([bare], prep, tok)


def test_whole_clip_caption_options_are_refused_for_dense_systems(tmp_path):
    raw = _config(tmp_path, captions_per_clip=2)
    with pytest.raises(
        ConfigError, match="captions_per_clip trains captions of whole clips; this system is a dense_caption"
    ):
        config_from_dict(raw, "<dense>")


def test_eval_scores_events_at_every_tiou_with_both_baselines(dense_run, tmp_path):
    from avseq.evaluation import evaluate_bundle, summary_table

    cfg, result = dense_run
    bundle = result.run_dir / "last" / "bundle"
    report = evaluate_bundle(bundle, cfg.data.root, tmp_path / "report.json", split="val", progress=False)
    assert report["kind"] == "dense_caption"
    assert set(report["systems"]) == {"model", "uniform", "nearest_neighbour"}
    for figures in report["systems"].values():
        assert {"tIoU=0.3", "tIoU=0.5", "tIoU=0.7", "tIoU=0.9", "mean", "events_per_clip"} <= set(figures)
        assert {"precision", "recall", "f1", "CIDEr", "matched", "pairs"} <= set(figures["tIoU=0.5"])
        for t in ("0.3", "0.5", "0.7", "0.9"):
            assert 0.0 <= figures[f"tIoU={t}"]["precision"] <= 1.0
    assert report["systems"]["uniform"]["events_per_clip"] >= 1
    table = summary_table(report).splitlines()
    assert table[0].split() == ["metric", "model", "uniform", "nearest_neighbour"]
    assert any(line.startswith("F1@0.5") for line in table)
    (row,) = [
        json.loads(line) for line in (tmp_path / "report_clips" / "events.jsonl").read_text().splitlines()
    ]
    assert row["references"] and set(row) == {"id", "references", "model", "uniform", "nearest_neighbour"}
    start, end, captions = row["references"][0]
    assert end > start and captions


def test_uniform_segments_tile_the_clip():
    from avseq.evaluation.dense import uniform_spans

    assert uniform_spans(10, 4) == [(0, 3), (4, 7), (8, 9)]
    assert uniform_spans(3, 8) == [(0, 2)]
