"""The real clips in ../shared/media (skipped when absent): facts from its README."""

import av
import pytest
import torch

from avseq.errors import NoStreamError, NotMediaError, TruncatedMediaError
from avseq.io import decode_audio, decode_video, mux_audio, probe
from avseq.types import Audio

pytestmark = pytest.mark.media

# file: (codec, width, height, avg fps, duration s, frames, (audio codec, rate, channels) or None)
FACTS = {
    "mmaction2__tests_data_test.mp4": ("h264", 340, 256, 30, 10.0, 300, None),
    "mmaction2__tests_data_test.avi": ("mpeg4", 320, 240, 25, 6.56, 164, ("mp3float", 44100, 2)),
    "SpecVQGAN__data_vas_videos_drum_video_02480.mp4": ("h264", 298, 224, 25, 10.04, 251, ("aac", 22050, 1)),
    "CondFoleyGen__data_demo_video_hitting_metal.mp4": (
        "h264",
        604,
        340,
        15,
        6.0,
        90,
        ("mp3float", 44100, 2),
    ),
    "torchcodec__test_resources_nasa_13013.mp4": ("h264", 320, 180, 25, 13.0, 325, ("aac", 8000, 2)),
    "torchcodec__test_resources_var_fps_video.mp4": ("h264", 128, 128, 20.09, 14.93, 300, None),
    "moviepy__media_fire2.mp4": ("h264", 1280, 720, 10.5, 2.38, 25, ("aac", 48000, 1)),
    "moviepy__media_no_duration.webm": ("vp9", 1280, 720, 15, 4.86, 74, ("opus", 48000, 2)),
}
VIDEOS = sorted(FACTS)


@pytest.mark.parametrize("name", VIDEOS)
def test_probe_matches_readme(shared_media, name):
    codec, width, height, fps, duration, frames, audio = FACTS[name]
    info = probe(shared_media / name)
    v = info.video[0]
    assert (v.codec, v.width, v.height, v.frames) == (codec, width, height, frames)
    assert v.avg_fps == pytest.approx(fps, abs=0.1)
    assert v.duration == pytest.approx(duration, abs=0.1)
    if audio is None:
        assert info.audio == []
    else:
        a = info.audio[0]
        assert (a.codec, a.sample_rate, a.channels) == audio


def test_special_facts(shared_media):
    fire = probe(shared_media / "moviepy__media_fire2.mp4").video[0]
    assert fire.rotation == -180 and fire.is_vfr
    assert probe(shared_media / "torchcodec__test_resources_var_fps_video.mp4").video[0].is_vfr
    nasa = probe(shared_media / "torchcodec__test_resources_nasa_13013.mp4")
    assert [s.type for s in nasa.streams] == ["video", "audio", "subtitle"] * 2
    webm = probe(shared_media / "moviepy__media_no_duration.webm")
    assert webm.duration_source == "packets" and webm.duration == pytest.approx(4.9, abs=0.1)


@pytest.mark.parametrize("name", VIDEOS)
def test_fast_sampling_matches_a_full_decode(shared_media, name):
    path = shared_media / name
    full = decode_video(path, mode="exact", size=24)
    assert len(full) == FACTS[name][5]
    for kwargs in ({"fps": 8}, {"num_frames": 16}):
        fast = decode_video(path, size=24, **kwargs)
        exact = decode_video(path, mode="exact", size=24, **kwargs)
        assert fast.pts.tolist() == exact.pts.tolist() and torch.equal(fast.data, exact.data)
        assert set(fast.pts.tolist()) <= set(full.pts.tolist())
    assert len(fast) == 16


@pytest.mark.parametrize("name", VIDEOS)
def test_mux_keeps_every_video_packet(shared_media, tmp_path, name):
    src = shared_media / name
    out = tmp_path / ("out.webm" if name.endswith(".webm") else "out.mp4")
    audio = Audio(torch.zeros(1, 8000), 16000)
    mux_audio(src, out, audio)

    def packets(path):
        with av.open(str(path)) as c:
            return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]

    assert packets(out) == packets(src)
    info = probe(out)
    assert len(info.audio) == 1
    assert info.audio[0].duration == pytest.approx(info.video[0].duration, abs=0.07)


def test_bad_files_give_clear_errors(shared_media):
    bad = shared_media / "bad"
    for name in ("zero_bytes.mp4", "html_error_page.mp4"):
        with pytest.raises(NotMediaError, match=name):
            probe(bad / name)
        with pytest.raises(NotMediaError):
            decode_video(bad / name)
    truncated = bad / "trunc30__video_features__sample_v_GGSY1Qvo990.mp4"
    assert probe(truncated).truncated is True
    with pytest.raises(
        TruncatedMediaError, match=r"video data ends at 5\.\d+ s but the header declares 18\.04 s"
    ):
        decode_video(truncated, fps=4)
    with pytest.raises(TruncatedMediaError, match="audio data ends"):
        decode_audio(truncated)
    audio_only = bad / "audio_only__vas_dog_video_02754.m4a"
    with pytest.raises(NoStreamError, match="no video stream"):
        decode_video(audio_only)
    assert decode_audio(audio_only).duration == pytest.approx(10.03, abs=0.03)
