import base64
import json
import re

import numpy as np
import pytest

from avseq.errors import ReportError
from avseq.report import spectrograms as spec
from avseq.report import write_report


def test_report_shows_each_clip_with_player_track_and_caption(fake_run):
    path = write_report(fake_run)
    html = path.read_text(encoding="utf-8")
    assert path == fake_run / "report.html"
    assert "src='street/red%20ball/with_sound.mp4'" in html
    tracks = re.findall(
        r"<track kind='captions' default [^>]*src='data:text/vtt;charset=utf-8;base64,([^']+)'", html
    )
    assert len(tracks) == 2
    assert base64.b64decode(tracks[0]).decode() == (fake_run / "street/red ball/caption.vtt").read_text()
    assert "<p class='caption'>a red ball bounces twice</p>" in html
    assert "<li>a ball hits the floor twice</li>" in html
    assert "<td>0.4213</td><td>1.25</td>" in html
    assert "<a href='street/red%20ball/sound.wav'>sound.wav</a>" in html


def test_every_input_string_is_escaped(fake_run):
    html = write_report(fake_run).read_text(encoding="utf-8")
    assert "<script" not in html and "<img src=x" not in html and "<b>moov" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the caption, shown as text
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # the failed clip's id
    assert "&lt;b&gt;moov&lt;/b&gt; atom missing &amp; file cut" in html


def test_header_has_counts_failures_and_summary(fake_run):
    html = write_report(fake_run).read_text(encoding="utf-8")
    header = html[html.index("<header>") : html.index("</header>")]
    assert "3 (2 ok, 1 failed)" in header
    assert "<h3>Failures (1)</h3>" in header and "TruncatedMediaError" in header
    for label, value in [
        ("pipeline file", "pipelines/caption_and_sound.yaml"),
        (
            "bundle versions",
            "<span title='/b/c'>synth-caption 1.0</span>, <span title='/b/s'>synth-sound 1.0</span>",
        ),
        ("throughput (files/s)", "0.857"),
        ("device", "cpu"),
        ("stage seconds", "decode: 0.02"),
    ]:
        assert f"<tr><td>{label}</td><td>{value}</td></tr>" in header


def test_header_counts_inputs_the_run_never_reached(fake_run):
    summary = json.loads((fake_run / "summary.json").read_text())
    summary["counts"].update(total=5, not_run=2)
    (fake_run / "summary.json").write_text(json.dumps(summary))
    assert "5 (2 ok, 1 failed, 2 not run)" in write_report(fake_run).read_text(encoding="utf-8")


def test_spectrograms_compare_with_original_only_when_input_had_sound(fake_run):
    html = write_report(fake_run).read_text(encoding="utf-8")
    assert (fake_run / "street/red ball/sound_mel.png").is_file()
    assert (fake_run / "street/red ball/input_mel.png").is_file()
    assert (fake_run / "silent/sound_mel.png").is_file()
    assert not (fake_run / "silent/input_mel.png").exists()
    assert "the input had no sound" in html
    assert "<img src='street/red%20ball/input_mel.png'" in html


def test_rerun_reuses_fresh_pictures_and_leaves_no_temp_files(fake_run):
    write_report(fake_run)
    png = fake_run / "street/red ball/sound_mel.png"
    before = png.stat().st_mtime_ns
    write_report(fake_run)
    assert png.stat().st_mtime_ns == before
    assert not [p for p in fake_run.rglob(".*") if p.is_file()]


def test_last_line_per_id_wins(fake_run):
    results = fake_run / "results.jsonl"
    lines = results.read_text().splitlines()
    retry = json.loads(lines[1]) | {"error": {"type": "CorruptMediaError", "message": "second try"}}
    results.write_text("\n".join([*lines, json.dumps(retry)]) + "\n")
    html = write_report(fake_run).read_text(encoding="utf-8")
    assert "second try" in html and "moov" not in html
    assert html.count("<section class='clip'") == 3


def test_pipeline_argument_shows_the_file_text(fake_run, tmp_path):
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("stages:\n  - type: <decode>\n")
    html = write_report(fake_run, pipeline=pipeline).read_text(encoding="utf-8")
    assert "<pre>stages:\n  - type: &lt;decode&gt;\n</pre>" in html


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            '{"id": "a", "status": "done"}',
            r"results.jsonl:1: invalid status 'done'\. Supported: ok, failed, skipped",
        ),
        ("{not json", r"results.jsonl:1: not valid JSON"),
        ('{"status": "ok"}', r"results.jsonl:1: 'id' must be a string, got None"),
        ('{"id": "a", "status": "ok", "outputs": []}', r"'outputs' must be an object, got list"),
    ],
)
def test_malformed_results_name_the_line_and_value(tmp_path, line, message):
    (tmp_path / "results.jsonl").write_text(line + "\n")
    with pytest.raises(ReportError, match=message):
        write_report(tmp_path)


def test_folder_without_results_is_a_clear_error(tmp_path):
    with pytest.raises(ReportError, match=r"results.jsonl: not found; is .* an `avseq run` output folder"):
        write_report(tmp_path)


def test_missing_outputs_are_marked(fake_run):
    (fake_run / "silent/caption.json").unlink()
    html = write_report(fake_run).read_text(encoding="utf-8")
    assert "caption.json <span class='error'>(missing)</span>" in html


def test_log_mel_agrees_with_librosa_on_axes():
    import librosa

    sound = np.sin(2 * np.pi * 440 * np.arange(22050) / 22050).astype(np.float32)
    ours = spec.log_mel(sound, 22050)
    reference = librosa.feature.melspectrogram(
        y=sound, sr=22050, n_fft=1024, hop_length=220, n_mels=64, fmax=8000.0, power=1.0
    )
    assert ours.db.shape == (64, 101) and ours.frame_rate == 100
    assert reference.shape[0] == 64
    # the 440 Hz tone is the loudest mel bin in both (same 0-8 kHz slaney scale)
    assert abs(int(ours.db.mean(1).argmax()) - int(reference.mean(1).argmax())) <= 1


def test_index_lists_every_clip_and_sections_are_capped(fake_run):
    html = write_report(fake_run, max_sections=1).read_text(encoding="utf-8")
    index = html[html.index("<nav class='index'>") : html.index("</nav>")]
    assert "<a href='#clip-0'>street/red ball</a>" in index
    assert "<td>silent</td>" in index and "TruncatedMediaError" in index
    assert html.count("<section class='clip'") == 1 and "2 more clips are listed in the index only" in html
    assert not (fake_run / "silent/sound_mel.png").exists()  # no section, no picture
    with pytest.raises(ValueError, match="max_sections must be >= 0, got -1"):
        write_report(fake_run, max_sections=-1)


def test_empty_caption_and_timings_read_as_text(fake_run):
    results = fake_run / "results.jsonl"
    lines = [json.loads(x) for x in results.read_text().splitlines()]
    lines[2]["captions"] = [" "]
    results.write_text("".join(json.dumps(r) + "\n" for r in lines))
    html = write_report(fake_run).read_text(encoding="utf-8")
    assert "<p class='caption muted'>(empty caption)</p>" in html
    assert "decode 0.010 s · sound 0.020 s · finished 2026-11-29T01:00:00+00:00" in html


def test_scores_read_as_plain_decimals():
    from avseq.report.html import fmt_score

    assert [fmt_score(v) for v in (0.42134, 1.25, 3e-13, -2e-7, 39.91376, 7, "ptb")] == [
        "0.4213", "1.25", "0", "0", "39.9138", "7", "ptb",
    ]  # fmt: skip


def test_a_torn_last_line_is_ignored(fake_run):
    results = fake_run / "results.jsonl"
    results.write_text(results.read_text() + '{"id": "torn-xyz", "status": "o')
    html = write_report(fake_run).read_text(encoding="utf-8")
    assert html.count("<section class='clip'") == 3 and "torn-xyz" not in html


def test_the_player_plays_a_muxed_webm_or_mkv(fake_run):
    """`avseq run` names the muxed file under ``with_sound`` whatever its container (a VP8 source
    gives with_sound.webm): the report plays it, not the input."""
    lines = [json.loads(x) for x in (fake_run / "results.jsonl").read_text().splitlines()]
    folder = fake_run / "street" / "red ball"
    (folder / "with_sound.mp4").rename(folder / "with_sound.webm")
    for line in lines:
        if line["id"] == "street/red ball":
            line["outputs"] = {"with_sound": "street/red ball/with_sound.webm",
                               "caption_vtt": "street/red ball/caption.vtt"}  # fmt: skip
    (fake_run / "results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    html = write_report(fake_run).read_text(encoding="utf-8")
    assert "src='street/red%20ball/with_sound.webm'" in html
