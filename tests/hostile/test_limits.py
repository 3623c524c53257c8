"""Caps from the pipeline file (``limits:``) refuse files from the probe, before any frame is decoded."""

from __future__ import annotations

import yaml

from tests.pipeline.pipeline_helpers import full_pipeline, read_results
from tools.fuzzing.headers import set_field
from tools.fuzzing.seeds import make_seeds


def with_limits(tmp_path, bundles, limits: dict) -> str:
    path = full_pipeline(tmp_path, bundles)
    doc = yaml.safe_load(path.read_text())
    doc["limits"] = limits
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_caps_in_the_pipeline_file_refuse_files_without_decoding(
    invoke, tmp_path, bundles, clips, monkeypatch
):
    import avseq.io.video as video

    def no_decoding(*args, **kwargs):  # the forked decode workers inherit this patch
        raise RuntimeError("a frame was decoded")

    monkeypatch.setattr(video, "sampled_frames", no_decoding)
    pipeline = with_limits(tmp_path, bundles, {"max_pixels": 500, "max_frames": 1000})
    out = tmp_path / "out"
    assert invoke("run", pipeline, "-i", clips[0].parent, "-o", out, "--quiet").exit_code == 1
    for r in read_results(out):  # the clips are 32x24 = 768 pixels
        assert r["error"]["type"] == "ResourceLimitError", r["error"]
        msg = r["error"]["message"]
        assert "pixels 768 exceeds the cap max_pixels=500 " in msg and "'limits: {max_pixels: ...}'" in msg


def test_raising_a_cap_lets_the_file_through(invoke, tmp_path, bundles, clips):
    pipeline = with_limits(tmp_path, bundles, {"max_frames": 2})  # 4 fps sampling: 3 to 7 frames per clip
    out = tmp_path / "out"
    assert invoke("run", pipeline, "-i", clips[0], "-o", out, "--quiet").exit_code == 1
    assert "exceeds the cap max_frames=2 " in read_results(out)[0]["error"]["message"]
    result = invoke("run", pipeline, "-i", clips[0], "-o", out, "--quiet", "--set", "limits.max_frames=100")
    assert result.exit_code == 0 and read_results(out)[0]["status"] == "ok"


def test_a_file_claiming_a_thousand_hours_is_refused_cheaply(invoke, tmp_path, bundles):
    mkv = next(p for p in make_seeds(tmp_path / "seeds") if p.suffix == ".mkv")
    liar = tmp_path / "in" / "liar.mkv"
    liar.parent.mkdir()
    liar.write_bytes(set_field(mkv.read_bytes(), ".mkv", "Duration", 1000 * 3600 * 1000.0))  # ms
    out = tmp_path / "out"
    assert invoke("run", full_pipeline(tmp_path, bundles), "-i", liar, "-o", out, "--quiet").exit_code == 1
    (line,) = read_results(out)
    assert line["error"]["type"] == "ResourceLimitError" and line["timings"]["decode"] < 2.0
    assert "duration 3600000 s exceeds the cap max_duration=14400 s" in line["error"]["message"]
