import json

import pytest

from avseq.errors import NotMediaError, ResourceLimitError
from avseq.io import MediaLimits, decode_video, probe


def test_probe_reports_streams_in_seconds(media):
    info = probe(media["gop"])
    assert info.container.startswith("mov,mp4")
    assert info.duration == pytest.approx(6.0, abs=0.05)
    assert info.size_bytes == media["gop"].stat().st_size
    (v,), (a,) = info.video, info.audio
    assert (v.codec, v.width, v.height, v.pix_fmt, v.frames) == ("h264", 32, 24, "yuv444p", 120)
    assert v.avg_fps == pytest.approx(20) and v.real_fps == pytest.approx(20) and not v.is_vfr
    assert (a.codec, a.sample_rate, a.channels) == ("aac", 16000, 1)
    assert a.duration == pytest.approx(6.0, abs=0.07) and a.samples == pytest.approx(96000, abs=1100)
    assert json.loads(json.dumps(info.to_dict()))["streams"][0]["width"] == 32


def test_odd_size_is_width_by_height(media):
    (v,) = probe(media["odd"]).video
    assert (v.width, v.height) == (17, 11)


def test_rotation_swaps_displayed_size(media):
    (v,) = probe(media["rot"]).video
    assert v.rotation == 90
    assert (v.coded_width, v.coded_height, v.width, v.height) == (17, 11, 11, 17)


def test_vfr_is_flagged_and_scan_counts_frames(media):
    (v,) = probe(media["vfr"], scan=True).video
    assert v.is_vfr and v.frames == 10
    assert v.avg_fps < v.real_fps


def test_several_audio_streams_and_none(media):
    info = probe(media["multi"])
    assert [(a.index, a.channels) for a in info.audio] == [(1, 1), (2, 2)]
    assert probe(media["odd"]).audio == []
    audio_only = probe(media["m4a"])
    assert audio_only.video == [] and audio_only.audio[0].duration == pytest.approx(1.0, abs=0.03)


def test_truncated_index_is_noticed(media):
    assert probe(media["truncated"]).truncated is True
    assert probe(media["gop"]).truncated is False


@pytest.mark.parametrize("name,cause", [("zero", "empty"), ("random", "not a readable media file")])
def test_bad_files_are_not_media(media, name, cause):
    with pytest.raises(NotMediaError, match=cause) as err:
        probe(media[name])
    assert str(media[name]) in str(err.value) and "\n" not in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(NotMediaError, match="file not found"):
        probe(tmp_path / "nope.mp4")


@pytest.mark.parametrize(
    "limits,cap",
    [
        (MediaLimits(max_duration=1.0), "max_duration=1"),
        (MediaLimits(max_pixels=100), "max_pixels=100"),
        (MediaLimits(max_frames=10), "max_frames=10"),
    ],
)
def test_limits_are_checked_before_decoding(media, limits, cap):
    with pytest.raises(ResourceLimitError, match=cap) as err:
        decode_video(media["gop"], limits=limits)
    assert "MediaLimits(" in str(err.value)
