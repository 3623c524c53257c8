import json

import pytest

from avseq.io import Cue, format_srt, format_vtt, write_caption_json, write_srt, write_vtt
from avseq.io.captions import srt_timestamp, vtt_timestamp


def test_timestamps_follow_each_spec():
    assert vtt_timestamp(0) == "00:00:00.000"
    assert vtt_timestamp(3723.4567) == "01:02:03.457"
    assert srt_timestamp(3723.4567) == "01:02:03,457"
    assert vtt_timestamp(59.9996) == "00:01:00.000"  # rounding carries into the minutes


def test_vtt_document_has_header_blank_lines_and_escapes():
    cues = [Cue(0.5, 1.25, "a <b> & c"), Cue(61.0, 62.5, "line one\n\nline two -->")]
    assert format_vtt(cues) == (
        "WEBVTT\n\n"
        "00:00:00.500 --> 00:00:01.250\na &lt;b&gt; &amp; c\n\n"
        "00:01:01.000 --> 00:01:02.500\nline one\nline two --&gt;\n"
    )


def test_srt_document_is_numbered_from_one():
    cues = [Cue(0.0, 1.0, "first"), Cue(1.0, 2.0, "second")]
    assert (
        format_srt(cues)
        == "1\n00:00:00,000 --> 00:00:01,000\nfirst\n\n2\n00:00:01,000 --> 00:00:02,000\nsecond\n"
    )
    assert format_srt([]) == ""
    assert format_vtt([]) == "WEBVTT\n"


@pytest.mark.parametrize("start,end", [(-1.0, 1.0), (2.0, 2.0), (3.0, 1.0), (0.0, float("nan"))])
def test_cue_rejects_bad_times(start, end):
    with pytest.raises(ValueError, match="Cue"):
        Cue(start, end, "x")


def test_writers_write_files(tmp_path):
    cues = [Cue(0.0, 1.5, "un café")]
    assert write_vtt(tmp_path / "c.vtt", cues).read_text(encoding="utf-8") == format_vtt(cues)
    assert write_srt(tmp_path / "c.srt", cues).read_text(encoding="utf-8") == format_srt(cues)
    doc = json.loads(write_caption_json(tmp_path / "c.json", ["un café"], cues=cues, model="m").read_text())
    assert doc == {
        "captions": ["un café"],
        "cues": [{"start": 0.0, "end": 1.5, "text": "un café"}],
        "model": "m",
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json", "c.srt", "c.vtt"]  # no temp files left
