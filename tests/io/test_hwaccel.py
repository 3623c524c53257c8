"""Where a decode ran: NVDEC (hwaccel="cuda") or the CPU, and why; never a silent fallback.

Without a GPU the CPU tests walk every fallback: no device, a device that cannot be created, a
codec without an NVDEC decoder, and a decoder that claims the device but hands out software
frames. The ``gpu`` tests check, on a card, that the frames really came from NVDEC (the codec
context's pixel format, not only the output) and equal the CPU's for H.264 and HEVC.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from avseq.io import hwaccel
from avseq.io.encode import write_video
from avseq.io.hwaccel import ON_CPU, CpuFallbackWarning, DecodedOn, DecodePlace
from avseq.io.sampling import Sampling
from avseq.io.source import open_video
from avseq.io.windows import iter_sampled_arrays

# NVDEC's smallest frames are 48x16 (H.264) and 144x144 (HEVC on some cards): test clips are larger
SIZE = (160, 224)


def _frames(n: int = 10, size: tuple[int, int] = SIZE, seed: int = 0) -> np.ndarray:
    """(n, H, W, 3) uint8: a moving gradient with some noise, so the codecs have work to do."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    out = np.stack([(xx + 5 * i) % 256 + 0 * yy for i in range(n)]).astype(np.uint8)[..., None].repeat(3, -1)
    return np.clip(out.astype(int) + rng.integers(-8, 8, out.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """{"h264", "hevc", "ffv1"}: the same frames in each codec (ffv1 has no NVDEC decoder)."""
    root = tmp_path_factory.mktemp("hwaccel")
    frames = _frames()
    return {
        "h264": write_video(root / "a.mp4", frames, fps=10),
        "hevc": write_video(root / "b.mp4", frames, fps=10, codec="libx265"),
        "ffv1": write_video(root / "c.mkv", frames, fps=10, codec="ffv1"),
    }


def _decode(path, hwaccel_name):
    windows = list(iter_sampled_arrays(path, [Sampling(5.0, None)], hwaccel=hwaccel_name))
    return np.concatenate([w.frames.data for w in windows]), windows[-1].decoded_on


def test_the_cpu_is_where_a_decode_without_hwaccel_runs(clips):
    _, where = _decode(clips["h264"], None)
    assert where == ON_CPU == DecodedOn("cpu", None)


@pytest.mark.parametrize("bad", ["vaapi", "cuda:x", "CUDA", ""])
def test_bad_hwaccel_names_the_value_and_choices(bad):
    with pytest.raises(ValueError, match=f"Invalid hwaccel {bad!r}. Supported: None, 'cuda', 'cuda:N'"):
        hwaccel.validate_hwaccel(bad)
    assert hwaccel.validate_hwaccel("cuda:1") == "cuda:1"


def test_no_cuda_device_decodes_on_the_cpu_and_says_so(clips, monkeypatch):
    monkeypatch.setattr(hwaccel, "cuda_decode_available", lambda: False)
    with pytest.warns(CpuFallbackWarning, match="hwaccel='cuda' unavailable .* decoding on the CPU"):
        frames, where = _decode(clips["h264"], "cuda")
    assert where == DecodedOn("cpu", "no CUDA device, or FFmpeg built without CUDA")
    np.testing.assert_array_equal(frames, _decode(clips["h264"], None)[0])


@pytest.mark.skipif(hwaccel.cuda_decode_available(), reason="the device can be created here")
def test_a_device_that_cannot_be_created_falls_back_with_the_reason(clips, monkeypatch):
    monkeypatch.setattr(hwaccel, "cuda_decode_available", lambda: True)  # the check passes, the open fails
    with pytest.warns(CpuFallbackWarning):
        _, where = _decode(clips["h264"], "cuda")
    assert where.device == "cpu" and where.fallback.startswith("the CUDA device could not be created (")


def test_a_codec_without_an_nvdec_decoder_falls_back_with_the_reason(clips, monkeypatch):
    monkeypatch.setattr(hwaccel, "cuda_decode_available", lambda: True)
    with pytest.warns(CpuFallbackWarning, match="no NVDEC decoder for ffv1"):
        frames, where = _decode(clips["ffv1"], "cuda")
    assert where == DecodedOn("cpu", "no NVDEC decoder for ffv1") and len(frames) == 5


def test_a_silent_software_decode_is_caught_by_the_frames_pixel_format(clips, monkeypatch):
    """The case PyAV does not report: a stream whose context claims the device but whose decoder
    hands out software frames (NVDEC refused the profile; allow_software_fallback). Simulated by
    opening for the CPU while the place believes the device was attached."""
    monkeypatch.setattr(hwaccel, "cuda_decode_available", lambda: True)
    monkeypatch.setattr(DecodePlace, "open_options", lambda self: {})
    monkeypatch.setattr(DecodePlace, "opened", lambda self, cc: None)
    with pytest.warns(CpuFallbackWarning):
        _, where = _decode(clips["h264"], "cuda")
    assert where.device == "cpu"
    assert where.fallback.startswith("NVDEC cannot decode this stream (h264") and "yuv420p" in where.fallback


def _context(fmt: str | None, profile: str | None = "High", is_hwaccel: bool = True):
    return SimpleNamespace(
        name="h264", profile=profile, is_hwaccel=is_hwaccel, format=SimpleNamespace(name=fmt) if fmt else None
    )


def test_the_place_claims_the_gpu_only_after_seeing_a_device_frame():
    place = DecodePlace("x.mp4", "cuda")
    assert place.result == DecodedOn("cpu", "no frame decoded")  # nothing seen yet: not the GPU
    place.opened(_context("cuda"))
    place.decoded(_context("cuda"))
    assert place.result == DecodedOn("cuda", None)
    place.decoded(_context("yuv444p"))  # later frames do not undo what was seen (one decoder)
    assert place.result.device == "cuda"


def test_a_refused_profile_is_recorded_once_with_codec_profile_and_pixels():
    place = DecodePlace("x.mp4", "cuda:1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        place.decoded(_context("yuv444p", "High 4:4:4 Predictive"))
        place.decoded(_context("yuv444p", "High 4:4:4 Predictive"))
    reason = "NVDEC cannot decode this stream (h264 High 4:4:4 Predictive, yuv444p)"
    assert place.result == DecodedOn("cpu", reason)
    assert [str(w.message) for w in caught] == [
        f"x.mp4: hwaccel='cuda:1' unavailable ({reason}); decoding on the CPU"
    ]
    assert place.open_options() == {}  # a reopened decode (plan mismatch) stays on the CPU


def test_no_device_nodes_means_no_cuda_decode(monkeypatch):
    monkeypatch.setattr(hwaccel, "nvidia_gpu_present", lambda: False)
    assert hwaccel.cuda_decode_available() is False


@pytest.mark.gpu
@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_nvdec_frames_come_from_the_device_and_equal_the_cpu_frames(clips, codec):
    with warnings.catch_warnings():
        warnings.simplefilter("error", CpuFallbackWarning)  # any fallback fails the test
        gpu, where = _decode(clips[codec], "cuda")
    assert where == DecodedOn("cuda", None)
    cpu, _ = _decode(clips[codec], None)
    assert gpu.shape == cpu.shape
    diff = np.abs(gpu.astype(np.int16) - cpu.astype(np.int16))
    assert diff.mean() < 1.0 and diff.max() <= 32  # same decoded planes; NV12 vs planar chroma only


@pytest.mark.gpu
def test_the_codec_context_decodes_into_device_memory(clips):
    place = DecodePlace(clips["h264"], "cuda")
    with open_video(clips["h264"], 0, place=place) as (container, vs):
        assert vs.codec_context.is_hwaccel
        next(iter(container.decode(vs)))
        assert vs.codec_context.format.name == "cuda"
        place.decoded(vs.codec_context)
    assert place.result == DecodedOn("cuda", None)
