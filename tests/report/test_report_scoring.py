import json

import pytest

from avseq.errors import ReportError
from avseq.report import write_report
from avseq.report.scoring import Reference, score_run


def test_score_run_annotates_matching_clips_and_summary(fake_run):
    ball = json.loads((fake_run / "results.jsonl").read_text().splitlines()[0])
    refs = {
        "street/red ball": Reference(
            captions=("a red ball bounces twice", "a ball hits the floor"),
            audio=fake_run.parent / "inputs/red ball.mp4",
            onsets=(0.375, 1.125),  # where the fixture's original sound has its bursts
            attributes={"colour": "red", "shape": "ball", "count": 2},
        ),
        "not-in-run": Reference(captions=("x",)),
    }
    scores = score_run(fake_run, refs)
    lines = [json.loads(x) for x in (fake_run / "results.jsonl").read_text().splitlines()]
    first = lines[0]
    kept = set(ball) - {"references", "metrics"}
    assert {k: first[k] for k in kept} == {k: ball[k] for k in kept}  # the run's own fields stay
    assert first["references"] == list(refs["street/red ball"].captions)
    assert first["metrics"]["BLEU-4"] == pytest.approx(1.0)  # the caption equals a reference
    # generated bursts at 0.25, 0.75, 1.25 s vs true onsets 0.375, 1.125 s: none within 0.1 s
    assert first["metrics"]["onset F1"] == 0.0
    assert first["metrics"]["LSD (dB)"] > 0
    assert "metrics" not in lines[1] and "metrics" not in lines[2]
    assert (
        scores["clips scored"] == 1 and scores["attribute accuracy"] == 1.0 == scores["all attributes right"]
    )
    assert json.loads((fake_run / "summary.json").read_text())["scores"] == scores
    html = write_report(fake_run).read_text(encoding="utf-8")
    assert "<th>onset F1</th>" in html and "<th>clips scored</th>" in html


def test_score_run_needs_results(tmp_path):
    with pytest.raises(ReportError, match=r"results.jsonl: not found; is .* an `avseq run` output folder"):
        score_run(tmp_path, {})


def test_scoring_goes_on_without_caption_metric_tools(fake_run, monkeypatch):
    import avseq.metrics.captions as captions

    def unavailable(*args, **kwargs):
        raise captions.MetricsUnavailableError(
            "caption metrics need pycocoevalcap: pip install 'avseq[eval]'"
        )

    monkeypatch.setattr(captions, "caption_scores", unavailable)
    monkeypatch.setattr("avseq.metrics.caption_scores", unavailable)
    scores = score_run(fake_run, {"silent": Reference(captions=("a ball",))})
    assert scores["caption metrics"].startswith("unavailable: caption metrics need pycocoevalcap")
    line = json.loads((fake_run / "results.jsonl").read_text().splitlines()[2])
    assert "BLEU-4" not in line["metrics"] and line["references"] == ["a ball"]
