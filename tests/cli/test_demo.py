"""`avseq demo` end to end, with tiny random-init bundles standing in for synth-caption / synth-sound."""

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from avseq.cli import main
from avseq.io import probe
from tools.fuzzing.bundles import tiny_bundles as make_tiny_bundles


@pytest.fixture(scope="module")
def tiny_bundles(tmp_path_factory) -> list[str]:
    """--set overrides pointing caption_and_sound.yaml at tiny random-init bundles."""
    world = {"width": 32, "height": 32, "fps": 8, "min_duration": 1.0, "max_duration": 2.0}
    made = make_tiny_bundles(
        tmp_path_factory.mktemp("bundles"),
        version="test-1",
        words=("a red ball bounces", "a blue cube slides twice"),
        sound_meta={"train_config": {"data": {"synth": world}}},  # what avseq train records
    )
    return [
        "--set", f"stages.caption.params.bundle={made['caption']}",
        "--set", f"stages.sound.params.bundle={made['sound']}",
        "--set", "stages.caption.params.beam_size=2",
    ]  # fmt: skip


def demo(*args: str):
    result = CliRunner().invoke(main, ["demo", "--quiet", *args])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()


def test_demo_generates_runs_scores_and_reports_then_resumes(tmp_path, tiny_bundles):
    out = tmp_path / "demo"
    lines = demo("-o", str(out), "-n", "2", *tiny_bundles)
    assert lines[0] == f"report: {out / 'report.html'}"
    assert lines[1].startswith("2 ok, 0 failed, 0 skipped in ") and "onset F1" in lines[1]
    results = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    for rec in results:
        assert Path(rec["input"]).parent == out / "inputs" / "test_silent"
        assert probe(rec["input"]).video[0].width == 32  # the world the sound bundle was trained on
        assert len(rec["references"]) == 4 and Path(rec["reference_audio"]).is_file()
        assert {"BLEU-4", "ROUGE-L", "onset F1", "LSD (dB)"} <= set(rec["metrics"])
        clip = out / rec["id"]
        assert (clip / "with_sound.mp4").is_file() and (clip / "caption.vtt").is_file()
        assert (clip / "input_mel.png").is_file()  # the original sound, from the reference clip
    assert "CIDEr" in json.loads((out / "summary.json").read_text())["scores"]
    html = (out / "report.html").read_text()
    assert html.count("<video ") == 2 and html.count("<th>LSD (dB)</th>") == 2  # per-clip metrics

    again = demo("-o", str(out), "-n", "2", *tiny_bundles)
    assert again[1].startswith("0 ok, 0 failed, 2 skipped")
    assert all("metrics" in json.loads(x) for x in (out / "results.jsonl").read_text().splitlines())


def test_demo_runs_on_given_clips_without_references(tmp_path, tiny_bundles):
    from avseq.io.encode import write_video

    clip = write_video(tmp_path / "mine.mp4", torch.zeros(6, 32, 48, 3, dtype=torch.uint8), fps=6)
    lines = demo("-o", str(tmp_path / "out"), "-i", str(clip), *tiny_bundles)
    assert lines[1].startswith("1 ok, 0 failed")
    rec = json.loads((tmp_path / "out" / "results.jsonl").read_text())
    assert rec["id"] == "mine" and "metrics" not in rec


def test_demo_with_a_missing_pipeline_file_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["demo", "-o", str(tmp_path), "--pipeline", str(tmp_path / "no.yaml")])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "no.yaml" in result.output


def test_run_demo_refuses_zero_clips(tmp_path):
    from avseq.demo import run_demo
    from avseq.errors import ConfigError

    with pytest.raises(ConfigError, match="Invalid number of demo clips 0: must be >= 1"):
        run_demo(tmp_path, n=0)
    assert list(tmp_path.iterdir()) == []
