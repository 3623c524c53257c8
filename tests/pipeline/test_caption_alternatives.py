"""``n_best`` of the caption stage: caption.json carries the beam's alternatives with their scores."""

from __future__ import annotations

import json
import pickle

import pytest
import yaml

from avseq.pipeline import expand_inputs, load_pipeline, run_pipeline
from tests.pipeline.pipeline_helpers import read_results


def _run(tmp_path, bundles, clip, name: str, **caption_params) -> dict:
    stages = [
        {"id": "decode", "type": "decode_video"},
        {"id": "frames", "type": "frames", "input": "decode"},
        {
            "id": "caption",
            "type": "caption",
            "input": "frames",
            "params": {"bundle": str(bundles["caption"]), "beam_size": 3, "max_len": 5, **caption_params},
        },
        {"id": "captions", "type": "write_captions", "input": "caption", "params": {"formats": ["json"]}},
    ]
    doc = {"version": 1, "device": "cpu", "batch_size": 2, "workers": 1, "timeout": 30, "stages": stages}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    out = tmp_path / name
    run_pipeline(load_pipeline(path), expand_inputs([clip]), out, progress=False)
    (line,) = read_results(out)
    assert line["status"] == "ok", line
    return {"caption.json": json.loads((out / clip.stem / "caption.json").read_text()), "line": line}


def test_n_best_writes_the_alternatives_and_their_scores(tmp_path, bundles, clips):
    one = _run(tmp_path, bundles, clips[0], "one")
    three = _run(tmp_path, bundles, clips[0], "three", n_best=3)
    assert "alternatives" not in one["caption.json"]  # the default file is as it was
    assert three["caption.json"]["captions"] == one["caption.json"]["captions"]
    assert three["line"]["captions"] == one["line"]["captions"]
    (window,) = three["caption.json"]["alternatives"]
    assert len(window) == 3 and [set(a) for a in window] == [{"text", "score", "log_prob"}] * 3
    assert window[0]["text"] == three["caption.json"]["captions"][0]
    scores = [a["score"] for a in window]
    assert scores == sorted(scores, reverse=True) and all(s <= 0 for s in scores)


def test_a_caption_is_its_text_and_keeps_its_alternatives_through_pickle():
    from avseq.io.captions import Caption

    caption = Caption("a red ball", [("a red ball", -0.5, -1.0), ("a ball", -0.75, -1.5)])
    assert caption == "a red ball" and json.dumps([caption]) == '["a red ball"]'
    back = pickle.loads(pickle.dumps(caption))
    assert type(back) is Caption and back.alternatives == caption.alternatives
    assert back.alternatives[1].text == "a ball" and back.alternatives[1].score == pytest.approx(-0.75)
    with pytest.raises(ValueError, match="the first alternative must be the caption itself"):
        Caption("a ball", [("a red ball", -0.5, -1.0)])
