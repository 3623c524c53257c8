"""``decode_video`` on NVDEC from a pipeline file: where each input's frames were decoded reaches
its results line (``decode_device``, ``decode_fallback``) and the summary counts, from the decode
workers; a decode device that cannot be is refused at load time."""

from __future__ import annotations

import json

import numpy as np
import pytest

from avseq.errors import ConfigError
from avseq.io import hwaccel
from avseq.io.encode import write_video
from avseq.io.hwaccel import DecodePlace
from avseq.pipeline import expand_inputs, load_pipeline, run_pipeline
from avseq.pipeline.stages.decode import FileDecoder
from avseq.pipeline.workers import DecodePool
from tests.pipeline.pipeline_helpers import full_pipeline, read_results

NO_DEVICE = "no CUDA device, or FFmpeg built without CUDA"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """An H.264 clip and an FFV1 clip (no NVDEC decoder) of 160x224 frames (NVDEC's smallest
    frames are 48x16 for H.264, 144x144 for HEVC on some cards), one second at 8 fps."""
    root = tmp_path_factory.mktemp("mixed")
    frames = np.random.default_rng(0).integers(0, 255, (8, 160, 224, 3), dtype=np.uint8)
    write_video(root / "h264.mp4", frames, fps=8)
    write_video(root / "ffv1.mkv", frames, fps=8, codec="ffv1")
    return root


def run(tmp_path, bundles, inputs, overrides=()):
    out = tmp_path / "out"
    spec = load_pipeline(full_pipeline(tmp_path, bundles), list(overrides))
    run_pipeline(spec, expand_inputs([inputs]), out, progress=False)
    summary = json.loads((out / "summary.json").read_text())
    return {r["id"]: r for r in read_results(out)}, summary


def test_a_cpu_decode_says_cpu_without_a_reason(tmp_path, bundles, mixed):
    lines, summary = run(tmp_path, bundles, mixed)
    assert {(r["decode_device"], r["decode_fallback"]) for r in lines.values()} == {("cpu", None)}
    assert summary["decode_devices"] == {"cpu": 2} and summary["decode_fallbacks"] == {}


def forked_workers(monkeypatch) -> None:
    """Fork the decode workers even for NVDEC, so that they inherit this test's patches."""
    monkeypatch.setattr(FileDecoder, "start_method", "fork")


def test_nvdec_decodes_in_spawned_workers_and_their_reasons_reach_the_lines(
    tmp_path, bundles, mixed, monkeypatch
):
    """CUDA cannot be used in a child forked after its parent initialised it (the models on the
    GPU, an earlier run): NVDEC workers are spawned, and find out for themselves where they run."""
    started = []
    original = DecodePool.start

    def recording(self, tasks):
        started.append(self._start_method)
        original(self, tasks)

    monkeypatch.setattr(DecodePool, "start", recording)
    here = hwaccel.cuda_decode_available()  # what a spawned worker finds (it inherits no patch)
    monkeypatch.setattr(hwaccel, "cuda_decode_available", lambda: True)  # the load check only
    lines, summary = run(tmp_path, bundles, mixed, ["stages.decode.params.hwaccel=cuda"])
    assert started == ["spawn"] and {r["status"] for r in lines.values()} == {"ok"}
    if here:
        assert (lines["h264"]["decode_device"], lines["ffv1"]["decode_device"]) == ("cuda", "cpu")
    else:
        assert {(r["decode_device"], r["decode_fallback"]) for r in lines.values()} == {("cpu", NO_DEVICE)}
        assert summary["decode_fallbacks"] == {NO_DEVICE: 2}


def test_each_file_nvdec_cannot_take_says_why_on_its_line(tmp_path, bundles, mixed, monkeypatch):
    forked_workers(monkeypatch)
    monkeypatch.setattr(hwaccel, "cuda_decode_available", lambda: True)  # the workers inherit it
    lines, summary = run(tmp_path, bundles, mixed, ["stages.decode.params.hwaccel=cuda"])
    assert lines["ffv1"]["status"] == "ok" and lines["h264"]["status"] == "ok"
    assert lines["ffv1"]["decode_device"] == "cpu"
    assert lines["ffv1"]["decode_fallback"] == "no NVDEC decoder for ffv1"
    if not hwaccel.nvidia_gpu_present():  # no GPU: the CUDA device cannot be created
        assert lines["h264"]["decode_device"] == "cpu"
        assert lines["h264"]["decode_fallback"].startswith("the CUDA device could not be created (")
        assert summary["decode_devices"] == {"cpu": 2}
        assert summary["decode_fallbacks"] == {
            "no NVDEC decoder for ffv1": 1,
            lines["h264"]["decode_fallback"]: 1,
        }


def test_a_decoder_that_silently_decodes_in_software_is_reported(tmp_path, bundles, mixed, monkeypatch):
    """The device attached, the decoder in software (NVDEC refused the stream): the worker finds it
    from the frames' pixel format and the results line says so."""
    forked_workers(monkeypatch)
    monkeypatch.setattr(hwaccel, "cuda_decode_available", lambda: True)
    monkeypatch.setattr(DecodePlace, "open_options", lambda self: {})
    monkeypatch.setattr(DecodePlace, "opened", lambda self, cc: None)
    lines, summary = run(tmp_path, bundles, mixed / "h264.mp4", ["stages.decode.device=cuda"])
    reason = lines["h264"]["decode_fallback"]
    assert lines["h264"]["decode_device"] == "cpu" and reason.startswith(
        "NVDEC cannot decode this stream (h264"
    )
    assert summary["decode_fallbacks"] == {reason: 1}


def test_a_file_that_fails_to_decode_has_no_decode_device(tmp_path, bundles):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    lines, summary = run(tmp_path, bundles, bad)
    assert lines["bad"]["status"] == "failed" and lines["bad"]["decode_device"] is None
    assert summary["decode_devices"] == {}


@pytest.mark.parametrize(
    "overrides,message",
    [
        (
            ["stages.decode.device=mps"],
            r"stages\[0\]\.device \(decode\): decode_video decodes on cpu or cuda",
        ),
        (
            ["stages.decode.device=cpu", "stages.decode.params.hwaccel=cuda"],
            r"device 'cpu' contradicts params\.hwaccel 'cuda'; keep one of them",
        ),
        (["stages.decode.device=cuda"], r"asks for NVDEC decoding, which is not available here"),
        (["stages.decode.params.hwaccel=cuda"], r"use device cpu or auto"),
        (["stages.decode.params.hwaccel=nvdec"], r"stages\[0\]\.params\.hwaccel: Input should be 'cuda'"),
    ],
)
def test_a_decode_device_that_cannot_be_is_refused_at_load(
    tmp_path, bundles, monkeypatch, overrides, message
):
    monkeypatch.setattr(hwaccel, "cuda_decode_available", lambda: False)
    with pytest.raises(ConfigError, match=message):
        load_pipeline(full_pipeline(tmp_path, bundles), overrides)


def test_auto_decodes_on_the_cpu_where_nvdec_is_missing(tmp_path, bundles, mixed, monkeypatch):
    monkeypatch.setattr(hwaccel, "cuda_decode_available", lambda: False)
    lines, _ = run(tmp_path, bundles, mixed / "h264.mp4", ["stages.decode.device=auto"])
    assert (lines["h264"]["decode_device"], lines["h264"]["decode_fallback"]) == ("cpu", None)


@pytest.mark.gpu
def test_nvdec_decodes_a_pipelines_h264_and_falls_back_for_ffv1(tmp_path, bundles, mixed):
    from safetensors.torch import load_file

    lines, summary = run(
        tmp_path, bundles, mixed, ["device=cuda", "precision=fp32", "stages.decode.device=cuda"]
    )
    assert (lines["h264"]["decode_device"], lines["h264"]["decode_fallback"]) == ("cuda", None)
    assert lines["ffv1"]["decode_fallback"] == "no NVDEC decoder for ffv1"
    assert summary["decode_devices"] == {"cuda": 1, "cpu": 1}
    cpu_out = tmp_path / "cpu"
    spec = load_pipeline(full_pipeline(tmp_path, bundles), ["device=cuda", "precision=fp32"])
    run_pipeline(spec, expand_inputs([mixed / "h264.mp4"]), cpu_out, progress=False)
    a = load_file(cpu_out / "h264/features.safetensors")["features"]
    b = load_file(tmp_path / "out/h264/features.safetensors")["features"]
    assert a.shape == b.shape and float((a - b).abs().mean()) < 0.05 * float(a.abs().max())
