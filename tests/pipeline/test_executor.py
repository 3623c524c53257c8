"""The local executor: every branch, batching across files, windows, resume, overwrite, isolation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from avseq.pipeline import expand_inputs, load_pipeline, run_pipeline
from tests.pipeline.pipeline_helpers import full_pipeline, make_clip, output_files, read_results


def run(pipeline, inputs, outdir, overrides=(), **kwargs):
    spec = load_pipeline(pipeline, list(overrides))
    return run_pipeline(spec, expand_inputs(inputs), outdir, progress=False, **kwargs)


def test_every_branch_writes_complete_outputs(tmp_path, bundles, clips):
    out = tmp_path / "out"
    result = run(full_pipeline(tmp_path, bundles), [clips[0].parent], out)
    assert result.counts == {"ok": 3, "failed": 0, "skipped": 0, "total": 3, "not_run": 0}
    names = {"caption.vtt", "caption.srt", "caption.json", "sound.wav", "features.safetensors"}
    assert output_files(out) == {f"clip{i}/{n}" for i in range(3) for n in names}
    lines = read_results(out)
    assert [r["id"] for r in lines] == ["clip0", "clip1", "clip2"]
    for r, clip in zip(lines, clips, strict=True):
        assert r["status"] == "ok" and r["error"] is None and r["input"] == str(clip)
        assert set(r["outputs"]) == {
            "caption_vtt",
            "caption_srt",
            "caption_json",
            "sound_wav",
            "features_safetensors",
        }
        assert len(r["captions"]) == 1 and {"decode", "frames", "caption", "sound", "wav"} <= set(
            r["timings"]
        )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["ok"] == 3 and summary["device"] == "cpu" and summary["files_per_second"] > 0
    assert {b["version"] for b in summary["bundles"]} == {"test-1"}


def test_outputs_match_the_clip(tmp_path, bundles, clips):
    from safetensors.torch import load_file

    from avseq.io.audio import decode_audio

    out = tmp_path / "out"
    run(full_pipeline(tmp_path, bundles), [clips[2]], out)
    feats = load_file(out / "clip2/features.safetensors")
    assert feats["features"].shape == (7, 8) and feats["pts"].tolist() == pytest.approx(
        [i / 4 for i in range(7)]
    )
    audio = decode_audio(out / "clip2/sound.wav")
    assert audio.sample_rate == 8000 and abs(audio.duration - 1.75) < 0.1
    vtt = (out / "clip2/caption.vtt").read_text()
    assert "00:00:00.000 --> 00:00:01.750" in vtt


def test_batching_across_files_gives_each_file_its_own_answer(tmp_path, bundles, clips):
    pipeline = full_pipeline(tmp_path, bundles)
    a = run(pipeline, [clips[0].parent], tmp_path / "a", ["batch_size=1", "workers=1"])
    b = run(pipeline, [clips[0].parent], tmp_path / "b", ["batch_size=8"])
    assert [r.captions for r in a.results] == [r.captions for r in b.results]
    from avseq.io.audio import decode_audio

    for i in range(3):
        wa = decode_audio(tmp_path / f"a/clip{i}/sound.wav").wave
        wb = decode_audio(tmp_path / f"b/clip{i}/sound.wav").wave
        assert wa.shape == wb.shape and float((wa - wb).abs().max()) < 1e-3


def test_long_files_are_processed_in_windows(tmp_path, bundles):
    clip = make_clip(tmp_path / "long.mp4", seconds=5.0, fps=8.0)
    out = tmp_path / "out"
    run(full_pipeline(tmp_path, bundles, window=2.0), [clip], out)
    doc = json.loads((out / "long/caption.json").read_text())
    assert [(c["start"], c["end"]) for c in doc["cues"]] == [(0.0, 2.0), (2.0, 4.0), (4.0, 5.0)]
    (line,) = read_results(out)
    assert len(line["captions"]) == 3 and line["duration"] == pytest.approx(5.0)


def test_rerun_skips_complete_inputs_and_redoes_missing_ones(tmp_path, bundles, clips):
    pipeline, out = full_pipeline(tmp_path, bundles), tmp_path / "out"
    first = run(pipeline, [clips[0].parent], out)
    stamp = (out / "clip0/caption.vtt").stat().st_mtime_ns
    (out / "clip1/sound.wav").unlink()
    second = run(pipeline, [clips[0].parent], out)
    assert [r.status for r in second.results] == ["skipped", "ok", "skipped"]
    assert second.results[0].captions == first.results[0].captions
    assert (out / "clip0/caption.vtt").stat().st_mtime_ns == stamp
    assert [r["status"] for r in read_results(out)] == ["skipped", "ok", "skipped"]
    third = run(pipeline, [clips[0].parent], out, overwrite=True)
    assert [r.status for r in third.results] == ["ok"] * 3
    assert not (out / ".staging").exists()


def test_a_failing_model_stage_fails_only_its_file(tmp_path, bundles, clips, monkeypatch):
    from avseq.pipeline.stages import compute

    original = compute.CaptionStage.__call__

    def flaky(self, inputs):
        if 3 in inputs[0].lengths.tolist():  # clip0: 0.75 s at 4 fps
            raise RuntimeError("boom\nsecond line")
        return original(self, inputs)

    monkeypatch.setattr(compute.CaptionStage, "__call__", flaky)
    out = tmp_path / "out"
    result = run(full_pipeline(tmp_path, bundles), [clips[0].parent], out)
    by_id = {r.id: r for r in result.results}
    assert by_id["clip0"].status == "failed"
    assert by_id["clip0"].error == {"type": "RuntimeError", "message": "boom second line"}
    assert by_id["clip1"].status == by_id["clip2"].status == "ok"
    assert not (out / "clip0").exists()
    assert np.isfinite(result.wall_seconds)


def test_mux_copies_the_video_and_adds_sound_and_captions(tmp_path, bundles, clips):
    from avseq.io import probe

    out = tmp_path / "out"
    result = run(full_pipeline(tmp_path, bundles, mux=True), [clips[1]], out)
    assert result.counts["ok"] == 1, result.results[0].error
    info, source = probe(out / "clip1/with_sound.mp4"), probe(clips[1])
    assert [s.codec for s in info.video] == [s.codec for s in source.video]
    assert info.video[0].frames == source.video[0].frames
    assert len(info.audio) == 1 and len(info.subtitles) == 1


def test_decode_audio_follows_the_video_windows(tmp_path):
    import torch
    import yaml

    from avseq.io import decode_audio, write_video

    wave = torch.sin(torch.arange(16000 * 3) / 16000 * 2 * torch.pi * 440)[None] * 0.5
    frames = torch.zeros(24, 3, 16, 16, dtype=torch.uint8)
    clip = write_video(tmp_path / "tone.mp4", frames, fps=8, audio=wave, sample_rate=16000)
    stages = [
        {"id": "decode", "type": "decode_video", "params": {"fps": 2, "window": 1.0}},
        {"id": "audio", "type": "decode_audio", "params": {"sample_rate": 8000}},
        {"id": "wav", "type": "write_audio", "input": "audio", "params": {"format": "flac"}},
    ]
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(yaml.safe_dump({"version": 1, "device": "cpu", "stages": stages}))
    result = run(pipeline, [clip], tmp_path / "out")
    assert result.counts["ok"] == 1, result.results[0].error
    audio = decode_audio(tmp_path / "out/tone/sound.flac")
    assert audio.sample_rate == 8000 and abs(audio.duration - 3.0) < 0.1


@pytest.mark.gpu
def test_model_stages_run_on_cuda_like_on_cpu(tmp_path, bundles, clips):
    from safetensors.torch import load_file

    pipeline = full_pipeline(tmp_path, bundles, mux=True)
    cpu = run(pipeline, [clips[0].parent], tmp_path / "cpu")
    overrides = ["device=cuda", "stages.caption.device=cuda:0", "precision=fp32"]  # auto: bf16 / fp16
    gpu = run(pipeline, [clips[0].parent], tmp_path / "gpu", overrides)
    assert gpu.summary["device"] == "cuda" and gpu.counts["ok"] == 3
    for i in range(3):
        a = load_file(tmp_path / f"cpu/clip{i}/features.safetensors")["features"]
        b = load_file(tmp_path / f"gpu/clip{i}/features.safetensors")["features"]
        assert float((a - b).abs().max()) < 1e-3
    assert [r.captions for r in cpu.results] == [r.captions for r in gpu.results]


def test_limits_fail_files_over_a_cap(tmp_path, bundles, clips):
    result = run(
        full_pipeline(tmp_path, bundles), [clips[0].parent], tmp_path / "out", ["limits.max_duration=1"]
    )
    by_id = {r.id: r for r in result.results}
    assert by_id["clip0"].status == "ok"
    assert (
        by_id["clip2"].error["type"] == "ResourceLimitError"
        and "max_duration=1" in by_id["clip2"].error["message"]
    )


def test_a_crashing_decoder_fails_only_its_file(tmp_path, bundles, clips, monkeypatch):
    import os

    from avseq.pipeline.stages.decode import DecodeVideo

    original = DecodeVideo.windows

    def crash(self, path):
        if path.name == "clip1.mp4":
            os._exit(3)  # as a segfault in a decoder would: the worker process dies
        return original(self, path)

    monkeypatch.setattr(DecodeVideo, "windows", crash)
    result = run(full_pipeline(tmp_path, bundles), [clips[0].parent], tmp_path / "out")
    by_id = {r.id: r for r in result.results}
    assert by_id["clip1"].error == {
        "type": "DecoderCrash",
        "message": f"{clips[1]}: the decode process died (exit code 3)",
    }
    assert by_id["clip0"].status == by_id["clip2"].status == "ok"
