"""avseq.io on things that are not ordinary media files: FIFOs, devices, streams without a codec."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from avseq.errors import NoStreamError, NotMediaError, ResourceLimitError, UnsupportedCodecError
from avseq.io import MediaLimits, decode_audio, decode_video, probe
from tools.fuzzing.headers import set_field
from tools.fuzzing.seeds import make_seeds


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, Path]:
    """The fuzzer's valid seed clips by suffix (.mp4, .webm, .mkv, .avi, .wav)."""
    return {p.suffix: p for p in make_seeds(tmp_path_factory.mktemp("seeds"))}


def test_fifo_and_endless_devices_are_refused_without_opening(tmp_path):
    os.mkfifo(tmp_path / "fifo.mp4")  # opening it for reading would block until a writer comes
    (tmp_path / "zero.mp4").symlink_to("/dev/zero")
    for name in ("fifo.mp4", "zero.mp4"):
        with pytest.raises(NotMediaError, match="not a regular file") as err:
            probe(tmp_path / name)
        assert "empty" not in str(err.value)


def test_a_stream_without_a_codec_is_a_clear_error(tmp_path, seeds):
    # An unknown Matroska CodecID / WAV format tag leaves PyAV with no codec context at all.
    mkv = tmp_path / "nocodec.mkv"
    mkv.write_bytes(seeds[".mkv"].read_bytes().replace(b"V_MPEG4/ISO/AVC", b"V_NOPE4/ISO/AVC"))
    assert [s.codec for s in probe(mkv).streams] == ["unknown", "flac"]
    with pytest.raises(UnsupportedCodecError, match="video stream 0 has no usable codec"):
        decode_video(mkv)
    wav = tmp_path / "nocodec.wav"
    data = bytearray(seeds[".wav"].read_bytes())
    fmt = data.find(b"fmt ")
    data[fmt + 8 : fmt + 10] = (0x7777).to_bytes(2, "little")  # audio format tag
    wav.write_bytes(bytes(data))
    with pytest.raises(UnsupportedCodecError, match="audio stream 0 has no usable codec"):
        decode_audio(wav)
    with pytest.raises(NoStreamError):
        decode_video(wav)


def test_a_cap_message_says_how_to_raise_it_from_a_pipeline_file(seeds):
    with pytest.raises(ResourceLimitError) as err:
        decode_video(seeds[".mp4"], limits=MediaLimits(max_pixels=100))
    msg = str(err.value)
    assert "pixels 768 exceeds the cap max_pixels=100 " in msg  # 32x24, printed as an integer
    assert "'limits: {max_pixels: ...}' in the pipeline file" in msg and "--set limits.max_pixels=" in msg


@pytest.mark.parametrize(
    "fields,cap",
    [
        ({"fmt.channels": 64, "fmt.block_align": 128}, "channels 64 exceeds the cap max_channels=16 "),
        ({"fmt.sample_rate": 2_000_000, "fmt.byte_rate": 4_000_000}, "max_sample_rate=384000 Hz"),
    ],
)
def test_audio_caps_refuse_lying_wav_headers_by_default(tmp_path, seeds, fields, cap):
    data = seeds[".wav"].read_bytes()
    for name, value in fields.items():
        data = set_field(data, ".wav", name, value)
    wav = tmp_path / "liar.wav"
    wav.write_bytes(data)
    with pytest.raises(ResourceLimitError, match=cap):
        decode_audio(wav)
