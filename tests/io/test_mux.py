import av
import numpy as np
import pytest
import torch

from avseq.errors import UnsupportedCodecError
from avseq.io import Cue, decode_audio, mux, mux_audio, probe
from avseq.io.mux import fit_to_span
from avseq.io.scan import scan_stream
from avseq.types import Audio
from tests.io.conftest import SR, sine


def video_packets(path):
    with av.open(str(path)) as c:
        return [
            (round(float(p.pts * p.time_base), 6), bytes(p)) for p in c.demux(c.streams.video[0]) if p.size
        ]


def new_audio(seconds=2.0, start=0.0):
    return Audio(torch.from_numpy(sine(seconds, 660)), SR, start=start)


@pytest.mark.parametrize("ext,codec,frame", [(".mp4", "aac", 1024 / SR), (".mkv", "opus", 0.02)])
def test_mux_copies_video_and_fits_audio_to_it(media, tmp_path, ext, codec, frame):
    out = mux_audio(media["gop"], tmp_path / f"out{ext}", new_audio(9.0))
    assert video_packets(out) == video_packets(media["gop"])
    info = probe(out, scan=True)
    assert [a.codec for a in info.audio] == [codec]
    assert info.audio[0].duration == pytest.approx(info.video[0].duration, abs=frame)
    back = decode_audio(out)
    peak = torch.fft.rfft(back.wave[0, : back.sample_rate]).abs().argmax()
    assert int(peak) == pytest.approx(660, abs=3)


def test_short_audio_is_padded_with_silence(media, tmp_path):
    out = mux_audio(media["gop"], tmp_path / "out.mp4", new_audio(1.0))
    back = decode_audio(out, sample_rate=SR)
    assert back.duration == pytest.approx(6.0, abs=1024 / SR)
    assert back.wave[:, int(2.0 * SR) :].abs().max() < 1e-3


def test_fit_to_span_places_audio_on_the_timeline():
    audio = Audio(torch.ones(1, 10), 10, start=0.5)
    assert fit_to_span(audio, 10, 0.0, 1.2).tolist() == [[0.0] * 5 + [1.0] * 7]
    assert fit_to_span(Audio(torch.ones(1, 10), 10, start=-0.3), 10, 0.0, 1.0)[0].sum() == 7


def test_keep_mode_keeps_old_audio_and_captions_become_a_track(media, tmp_path):
    cues = [Cue(0.5, 1.5, "a <red> ball"), Cue(2.0, 3.0, "bounces")]
    for ext, ccodec in ((".mp4", "mov_text"), (".mkv", "webvtt")):
        out = mux_audio(media["multi"], tmp_path / f"keep{ext}", new_audio(1.0), mode="keep", captions=cues)
        info = probe(out)
        assert len(info.audio) == 3
        (sub,) = info.subtitles
        assert (sub.codec, sub.language) == (ccodec, "eng")
        with av.open(str(out)) as c:
            texts = [bytes(p) for p in c.demux(c.streams.subtitles[0]) if p.size]
        assert any(b"a <red> ball" in t for t in texts) and any(b"bounces" in t for t in texts)


def test_replace_mode_drops_old_audio(media, tmp_path):
    out = mux_audio(media["multi"], tmp_path / "rep.mp4", media["m4a"])
    assert len(probe(out).audio) == 1


def test_bad_outputs(media, tmp_path):
    with pytest.raises(ValueError, match=r"Invalid output extension '\.avi'"):
        mux_audio(media["gop"], tmp_path / "x.avi", new_audio())
    with pytest.raises(ValueError, match="Invalid mode 'merge'. Supported: 'replace', 'keep'"):
        mux_audio(media["gop"], tmp_path / "x.mp4", new_audio(), mode="merge")
    with pytest.raises(UnsupportedCodecError, match="WebM cannot hold video codec 'h264'"):
        mux_audio(media["gop"], tmp_path / "x.webm", new_audio())
    assert not list(tmp_path.iterdir())


def all_packets(path):
    """{stream index: [(pts, dts, bytes)]} of every non-empty packet of ``path``."""
    with av.open(str(path)) as c:
        out = {s.index: [] for s in c.streams}
        for p in c.demux():
            if p.size:
                out[p.stream.index].append((p.pts, p.dts, bytes(p)))
        return out


@pytest.mark.parametrize(
    "name,ext,mode", [("gop", ".mp4", "replace"), ("vfr", ".mkv", "replace"), ("multi", ".mp4", "keep")]
)
def test_one_pass_writes_what_scanning_first_writes(media, tmp_path, monkeypatch, name, ext, mode):
    # The video's span is measured while its packets are copied; scan_stream runs only where
    # that cannot be done, forced here by leaving no room to read ahead.
    scans = []
    monkeypatch.setattr(mux, "scan_stream", lambda *a: scans.append(1) or scan_stream(*a))
    audio, cues = new_audio(1.5, start=0.3), [Cue(0.2, 0.6, "tick")]
    one = mux_audio(media[name], tmp_path / f"one{ext}", audio, mode=mode, captions=cues)
    assert scans == []
    monkeypatch.setattr(mux, "LOOKAHEAD_BYTES", 0)
    scanned = mux_audio(media[name], tmp_path / f"scanned{ext}", audio, mode=mode, captions=cues)
    assert scans == [1]
    assert all_packets(one) == all_packets(scanned)


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_encoded_audio_stays_close_to_the_input(media, tmp_path, ext):
    # Guards the encoder settings chosen for speed (mux.ENCODER_OPTIONS): about 24 dB today.
    rng = np.random.default_rng(0)
    wave = (0.5 * sine(6.0, 660) + 0.05 * rng.standard_normal((1, 6 * SR))).astype(np.float32)
    out = mux_audio(media["gop"], tmp_path / f"out{ext}", Audio(torch.from_numpy(wave), SR))
    back = decode_audio(out, sample_rate=SR).wave[0].numpy()
    x, y = wave[0], back[: wave.shape[1]]
    assert 10 * np.log10((x**2).sum() / ((x - y) ** 2).sum()) > 20
