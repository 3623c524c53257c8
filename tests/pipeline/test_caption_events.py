"""The caption stage's ``mode: events``: one timed cue per proposed event, and the load-time
check that refuses it for a bundle without a proposal head."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
import yaml

from avseq.errors import ConfigError
from avseq.pipeline import expand_inputs, load_pipeline, run_pipeline
from avseq.pipeline.stages.base import FileInfo
from tests.pipeline.pipeline_helpers import make_clip, read_results
from tools.fuzzing.bundles import PREPROCESSING


def _pipeline(
    tmp_path: Path, bundle: Path, name: str = "events", window: float | None = None, **params
) -> Path:
    stages = [
        {"id": "decode", "type": "decode_video", "params": {"window": window} if window else {}},
        {"id": "frames", "type": "frames", "input": "decode"},
        {"id": "encode", "type": "encode_frames", "input": "frames", "params": {"bundle": str(bundle)}},
        {
            "id": "caption",
            "type": "caption",
            "input": "encode",
            "params": {"bundle": str(bundle), "mode": "events", "search": "greedy", "max_len": 5, **params},
        },
        {"id": "captions", "type": "write_captions", "input": "caption"},
        {"id": "features", "type": "write_features", "input": "encode"},
    ]
    doc = {"version": 1, "device": "cpu", "batch_size": 2, "workers": 1, "timeout": 30, "stages": stages}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_events_mode_writes_one_timed_cue_per_proposed_event(tmp_path, dense_bundle):
    from safetensors.torch import load_file

    from avseq.bundles import load

    clip = make_clip(tmp_path / "clip.mp4", seconds=4.0, fps=8.0)
    out = tmp_path / "out"
    path = _pipeline(tmp_path, dense_bundle, window=2.0)
    run_pipeline(load_pipeline(path), expand_inputs([clip]), out, progress=False)
    (line,) = read_results(out)
    assert line["status"] == "ok", line
    folder = out / clip.stem
    doc = json.loads((folder / "caption.json").read_text())
    # the events the bundle proposes over the very features the run wrote, window by window
    fps = PREPROCESSING["fps"]
    features = load_file(str(folder / "features.safetensors"))["features"]
    system = load(str(dense_bundle)).system
    expected = []
    for start, window in ((0.0, features[:8]), (2.0, features[8:])):
        (spans,) = system.propose_from_features(window[None], torch.tensor([len(window)]))
        expected += sorted((start + first / fps, start + (last + 1) / fps) for first, last in spans)
    assert len(features) == 16 and len(expected) >= 2
    assert [(c["start"], c["end"]) for c in doc["cues"]] == pytest.approx(expected)
    assert all(c["text"] for c in doc["cues"])
    assert line["captions"] == doc["captions"] and len(doc["captions"]) == 2  # one text per window
    vtt = (folder / "caption.vtt").read_text()
    srt = (folder / "caption.srt").read_text()
    assert vtt.count(" --> ") == srt.count(" --> ") == len(expected)


def test_events_mode_with_a_bundle_without_a_proposal_head_is_refused(tmp_path, bundles):
    path = _pipeline(tmp_path, bundles["caption"])
    with pytest.raises(ConfigError) as err:
        load_pipeline(path)
    message = str(err.value)
    assert "stages[3].params.mode" in message and "(caption)" in message
    assert "is a caption bundle" in message and "dense_caption" in message
    assert "Allowed modes for it: window" in message


def test_events_mode_keeps_one_caption_per_event(tmp_path, dense_bundle):
    with pytest.raises(ConfigError, match=r"n_best 2 needs mode: window .*allowed: 1"):
        load_pipeline(_pipeline(tmp_path, dense_bundle, search="beam", beam_size=2, n_best=2))


def test_event_cues_move_to_the_clip_timeline_and_pickle():
    from avseq.io import Cue, EventCaptions
    from avseq.pipeline.stages.sinks import window_cues

    second = EventCaptions([Cue(1.0, 2.0, "a cube slides"), Cue(0.25, 0.5, "a ball bounces")])
    assert second == "a ball bounces; a cube slides"
    back = pickle.loads(pickle.dumps(second))
    assert type(back) is EventCaptions and back.cues == second.cues
    info = FileInfo(Path("x.mp4"), 8.0, [(0.0, 4.0), (4.0, 8.0)])
    cues = window_cues([EventCaptions([]), second], info)
    assert cues == [Cue(4.25, 4.5, "a ball bounces"), Cue(5.0, 6.0, "a cube slides")]


def test_an_unknown_mode_names_the_key_and_the_modes(tmp_path, dense_bundle):
    with pytest.raises(ConfigError) as err:
        load_pipeline(_pipeline(tmp_path, dense_bundle, mode="scenes"))
    message = str(err.value)
    assert "stages[3].params.mode" in message and "'scenes'" in message
    assert "'window'" in message and "'events'" in message
