"""The classify stage writes labels.json per clip (whole and per window); it runs classify
bundles only. Trained bundles of the classify and frame_caption kinds run in pipelines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from avseq.errors import ConfigError
from avseq.pipeline import expand_inputs, load_pipeline, run_pipeline
from tests.pipeline.pipeline_helpers import make_clip, read_results
from tools.fuzzing.bundles import ENCODER, PREPROCESSING

ATTRIBUTES = {"colour": ["blue", "green", "red"], "shape": ["ball", "cube"]}


@pytest.fixture(scope="module")
def classify_bundle(tmp_path_factory) -> Path:
    """A tiny random-init classify bundle of two attributes."""
    from avseq.bundles import save_bundle
    from avseq.models import build_system

    torch.manual_seed(0)
    config = {"kind": "classify", "encoder": ENCODER, "model": {"attributes": ATTRIBUTES, "hidden_size": 8}}
    folder = tmp_path_factory.mktemp("classify") / "classify"
    return save_bundle(folder, build_system(config), PREPROCESSING, version="test-1")


def _pipeline(tmp_path: Path, bundle: Path, window: float | None = None, **params) -> Path:
    stages = [
        {"id": "decode", "type": "decode_video", "params": {"window": window} if window else {}},
        {"id": "frames", "type": "frames", "input": "decode"},
        {
            "id": "classify",
            "type": "classify",
            "input": "frames",
            "params": {"bundle": str(bundle), **params},
        },
        {"id": "labels", "type": "write_labels", "input": "classify"},
    ]
    doc = {"version": 1, "device": "cpu", "batch_size": 2, "workers": 1, "timeout": 30, "stages": stages}
    path = tmp_path / "classify.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_the_classify_stage_writes_each_attributes_top_classes(tmp_path, classify_bundle):
    clip = make_clip(tmp_path / "clip.mp4", seconds=4.0, fps=8.0)
    out = tmp_path / "out"
    spec = load_pipeline(_pipeline(tmp_path, classify_bundle, window=2.0, top_k=2))
    run_pipeline(spec, expand_inputs([clip]), out, progress=False)
    (line,) = read_results(out)
    assert line["status"] == "ok", line
    assert line["outputs"]["labels_json"] == "clip/labels.json"
    doc = json.loads((out / "clip" / "labels.json").read_text())
    assert doc["top_k"] == 2 and set(doc["attributes"]) == {"colour", "shape"}
    colour = doc["attributes"]["colour"]
    assert (
        len(colour) == 2 and colour[0]["p"] >= colour[1]["p"] and colour[0]["class"] in ATTRIBUTES["colour"]
    )
    assert [(w["start"], w["end"]) for w in doc["windows"]] == [(0.0, 2.0), (2.0, 4.0)]
    # the clip's probabilities are the windows' averaged: its best shape (of two) is the mean of theirs
    shapes = [{c["class"]: c["p"] for c in w["attributes"]["shape"]} for w in doc["windows"]]
    best = doc["attributes"]["shape"][0]
    assert best["p"] == pytest.approx(sum(s[best["class"]] for s in shapes) / 2, abs=1e-5)
    # the results line names the clip's most probable class per attribute
    assert line["labels"] == {a: ranked[0]["class"] for a, ranked in doc["attributes"].items()}


def test_a_classify_stage_refuses_a_bundle_of_another_kind(tmp_path, bundles):
    with pytest.raises(ConfigError) as err:
        load_pipeline(_pipeline(tmp_path, bundles["caption"]))
    message = str(err.value)
    assert "stages[2].params.bundle" in message and "is a caption bundle" in message
    assert "a classify stage runs bundles of kind: classify" in message


def test_a_caption_stage_refuses_a_classify_bundle(tmp_path, classify_bundle):
    stages = [
        {"id": "decode", "type": "decode_video"},
        {"id": "frames", "type": "frames", "input": "decode"},
        {"id": "caption", "type": "caption", "input": "frames", "params": {"bundle": str(classify_bundle)}},
        {"id": "captions", "type": "write_captions", "input": "caption"},
    ]
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "stages": stages}), encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"is a classify bundle; a caption stage runs bundles of kind: caption"
    ):
        load_pipeline(path)


def test_classify_params_are_checked(tmp_path, classify_bundle):
    with pytest.raises(ConfigError, match="top_k"):
        load_pipeline(_pipeline(tmp_path, classify_bundle, top_k=0))
