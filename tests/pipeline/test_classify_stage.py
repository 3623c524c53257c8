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


def _events_pipeline(
    tmp_path: Path, classify: Path, dense: Path, features: bool = False, window: float = 2.0, **params
) -> Path:
    """decode (``window`` s windows) -> frames -> caption (events) and classify (events) of those frames, or
    of the classify bundle's features (written beside) when ``features``."""
    frames_for_classify = "encode" if features else "frames"
    stages = [
        {"id": "decode", "type": "decode_video", "params": {"window": window}},
        {"id": "frames", "type": "frames", "input": "decode"},
        {
            "id": "caption",
            "type": "caption",
            "input": "frames",
            "params": {"bundle": str(dense), "mode": "events", "search": "greedy", "max_len": 5},
        },
        {
            "id": "classify",
            "type": "classify",
            "input": [frames_for_classify, "caption"],
            "params": {"bundle": str(classify), "mode": "events", **params},
        },
        {"id": "captions", "type": "write_captions", "input": "caption", "params": {"formats": ["json"]}},
        {"id": "labels", "type": "write_labels", "input": "classify"},
    ]
    if features:
        stages[3:3] = [
            {"id": "encode", "type": "encode_frames", "input": "frames", "params": {"bundle": str(classify)}}
        ]
        stages.append({"id": "features", "type": "write_features", "input": "encode"})
    doc = {"version": 1, "device": "cpu", "batch_size": 2, "workers": 1, "timeout": 30, "stages": stages}
    path = tmp_path / "events.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_events_mode_labels_each_event_of_the_caption_stage(tmp_path, classify_bundle, dense_bundle):
    from safetensors.torch import load_file

    from avseq.bundles import load
    from avseq.models.proposals import frame_span

    clip = make_clip(tmp_path / "clip.mp4", seconds=4.0, fps=8.0)
    out = tmp_path / "out"
    path = _events_pipeline(tmp_path, classify_bundle, dense_bundle, features=True, top_k=3)
    run_pipeline(load_pipeline(path), expand_inputs([clip]), out, progress=False)
    (line,) = read_results(out)
    assert line["status"] == "ok", line
    assert line["outputs"]["labels_json"] == "clip/labels.json" and line["labels"] == {}
    doc = json.loads((out / "clip" / "labels.json").read_text())
    cues = json.loads((out / "clip" / "caption.json").read_text())["cues"]
    assert len(cues) >= 2 and "attributes" not in doc and doc["top_k"] == 3
    # one event per cue, with its times and caption
    assert [(e["start"], e["end"], e["caption"]) for e in doc["events"]] == [
        (pytest.approx(c["start"]), pytest.approx(c["end"]), c["text"]) for c in cues
    ]
    # each event's classes are the bundle's over its own frames' features, cut from its window's
    fps = PREPROCESSING["fps"]
    features = load_file(str(out / "clip" / "features.safetensors"))["features"]
    system = load(str(classify_bundle)).system
    n = round(2.0 * fps)  # frames per 2 s window
    for event in doc["events"]:
        k = int(event["start"] // 2.0)
        start, window = 2.0 * k, features[n * k : n * (k + 1)]
        first, last = frame_span(event["start"] - start, event["end"] - start, fps, len(window))
        span = window[first : last + 1]
        (probs,) = system.probabilities_from_features(span[None], torch.tensor([len(span)]))
        for attribute, ranked in event["attributes"].items():
            assert len(ranked) == min(3, len(ATTRIBUTES[attribute]))
            for entry in ranked:
                assert entry["p"] == pytest.approx(probs[attribute][entry["class"]], abs=1e-5)
            assert ranked[0]["class"] == max(probs[attribute], key=probs[attribute].get)


SPANS = [(0, 2, 5), (0, 4, 9), (1, 1, 5)]  # the cues below as (window, first frame, last frame) at 8 fps


def test_events_mode_cuts_each_event_from_its_windows_features():
    """Frames are encoded a window at a time, then each event's span is cut out (as `avseq eval`
    scores a classify bundle: a CNN that sees each frame's change from the one before sees the
    frame before the span too); features are cut as given; a span past its window's end stops
    at the window's last frame."""
    from types import SimpleNamespace

    from avseq.io import Cue, EventCaptions
    from avseq.models import build_system
    from avseq.pipeline.stages.labels import ClassifyParams, ClassifyStage
    from avseq.types import Features, FrameBatch

    torch.manual_seed(0)
    model = {"attributes": ATTRIBUTES, "hidden_size": 8}
    system = build_system({"kind": "classify", "encoder": {**ENCODER, "motion": True}, "model": model})
    system.eval()
    bundle = SimpleNamespace(system=system, preprocessing=SimpleNamespace(fps=8.0))
    ctx = SimpleNamespace(device=lambda spec: torch.device("cpu"), bundle=lambda name, device: bundle)
    stage = ClassifyStage(SimpleNamespace(params=ClassifyParams(bundle="x", mode="events", top_k=1)), ctx)
    data = torch.rand(2, 10, 3, *PREPROCESSING["frame_size"])
    lengths = torch.tensor([10, 6])
    texts = [
        EventCaptions([Cue(0.25, 0.75, "one"), Cue(0.5, 1.25, "two")]),
        EventCaptions([Cue(0.125, 2.0, "past the end")]),
    ]
    with torch.no_grad():
        whole = system.features(data, lengths)
    expected = []
    for b, a, z in SPANS:
        expected += system.probabilities_from_features(whole[b, a : z + 1][None], torch.tensor([z + 1 - a]))
    frames = FrameBatch(data, torch.zeros(2, 10, dtype=torch.float64), lengths)
    for value in (frames, Features(whole, lengths)):
        first, second = stage([value, texts])
        assert [c.text for c in first.cues] == ["one", "two"] and [c.text for c in second.cues] == [
            "past the end"
        ]
        for mine, theirs in zip([*first.probs, *second.probs], expected, strict=True):
            for attribute in theirs:
                assert mine[attribute] == pytest.approx(theirs[attribute], abs=1e-5)
    # what this tells apart: the first span's frames encoded alone classify otherwise
    with torch.no_grad():
        alone = system.features(data[:1, 2:6], torch.tensor([4]))
    other = system.probabilities_from_features(alone, torch.tensor([4]))[0]
    assert any(abs(other[a][c] - expected[0][a][c]) > 1e-4 for a in other for c in other[a])


def test_events_mode_needs_a_caption_stage_of_events(tmp_path, classify_bundle, dense_bundle):
    path = _events_pipeline(tmp_path, classify_bundle, dense_bundle)
    doc = yaml.safe_load(path.read_text())
    doc["stages"][2]["params"]["mode"] = "window"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as err:
        load_pipeline(path)
    message = str(err.value)
    assert "stages[3].input" in message and "'caption', which proposes none" in message
    assert "params.mode: events" in message


def test_classify_inputs_are_checked_against_the_mode(tmp_path, classify_bundle, dense_bundle):
    path = _events_pipeline(tmp_path, classify_bundle, dense_bundle)
    doc = yaml.safe_load(path.read_text())
    doc["stages"][3]["params"]["mode"] = "clip"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(
        ConfigError, match=r"stages\[3\].input: classify stage 'classify' in mode 'clip' reads one"
    ):
        load_pipeline(path)
    doc["stages"][3]["params"]["mode"] = "events"
    doc["stages"][3]["input"] = ["frames"]
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match=r"in mode 'events' reads two inputs, frames \(or features\) and"):
        load_pipeline(path)


def test_a_run_encodes_grounded_bundles_a_few_frames_at_a_time_with_the_same_features(tmp_path):
    """A bundle's training chunk (1024 frames for level 2's grounded encoder) would hold that many
    frames' activations at once in a run: a run caps every encoder's chunk, grounded ones too, and
    chunking does not change what they compute."""
    from avseq.bundles import save_bundle
    from avseq.models import GroundedEncoder, build_system
    from avseq.pipeline.memory import INFERENCE_CHUNK
    from avseq.pipeline.plan import BuildContext

    encoder = [
        {**ENCODER, "pool": "grid", "motion": True, "chunk_size": 512},
        {
            "name": "grounded",
            "out_dim": 8,
            "crop": 8,
            "width": 4,
            "locator_width": 4,
            "temporal": 1,
            "chunk_size": 512,
        },
    ]
    torch.manual_seed(0)
    system = build_system(
        {"kind": "classify", "encoder": encoder, "model": {"attributes": ATTRIBUTES, "hidden_size": 8}}
    )
    folder = save_bundle(tmp_path / "grounded", system, PREPROCESSING, version="test-1")
    loaded = BuildContext(spec=None).bundle(str(folder), torch.device("cpu")).system
    grounded = [m for m in loaded.modules() if isinstance(m, GroundedEncoder)]
    assert len(grounded) == 1 and grounded[0].chunk_size == INFERENCE_CHUNK < 512
    frames, lengths = torch.rand(3, 20, 3, 16, 16), torch.tensor([20, 13, 7])
    system.eval()
    with torch.no_grad():
        assert torch.allclose(loaded.features(frames, lengths), system.features(frames, lengths), atol=1e-5)


def test_events_mode_needs_a_bundle_that_samples_at_a_rate(tmp_path, dense_bundle):
    from avseq.bundles import save_bundle
    from avseq.models import build_system

    torch.manual_seed(0)
    config = {"kind": "classify", "encoder": ENCODER, "model": {"attributes": ATTRIBUTES, "hidden_size": 8}}
    fixed = {"frame_size": PREPROCESSING["frame_size"], "num_frames": 8, "frame_transform": "fit"}
    bundle = save_bundle(tmp_path / "fixed", build_system(config), fixed, version="test-1")
    with pytest.raises(ConfigError) as err:
        load_pipeline(_events_pipeline(tmp_path, bundle, dense_bundle))
    message = str(err.value)
    assert (
        "stages[3].params.mode (classify): mode 'events' cuts spans by the bundle's preprocessing.fps"
        in message
    )
    assert "Allowed modes for it: clip" in message
