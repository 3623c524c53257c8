"""The mux stage: its inputs are checked at load, and it writes the container the video fits."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from avseq.cli import main
from avseq.errors import ConfigError
from avseq.io import write_video
from avseq.pipeline import describe, expand_inputs, load_pipeline, run_pipeline
from tests.pipeline.pipeline_helpers import PIPELINES, bundle_overrides, make_clip, read_results


def pipeline(tmp_path: Path, bundles: dict[str, Path], **mux) -> Path:
    """caption_and_sound.yaml on the tiny bundles, its ``mux`` stage updated with ``mux``."""
    doc = yaml.safe_load((PIPELINES / "caption_and_sound.yaml").read_text())
    for stage in doc["stages"]:
        if stage["id"] in ("caption", "sound"):
            stage["params"]["bundle"] = str(bundles[stage["id"]])
        if stage["id"] == "mux":
            stage.update(mux)
    doc.update(device="cpu", batch_size=2, workers=1)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def mux_index(path: Path) -> int:
    ids = [s["id"] for s in yaml.safe_load(path.read_text())["stages"]]
    return ids.index("mux")


@pytest.mark.parametrize(
    "mux,key,says",
    [
        # fed only captions: failed on every file with "'wave' is not in list"
        (
            {"input": ["caption"], "params": {"captions": True}},
            "input",
            "mux stage 'mux' needs a wave input (a vocoder) to mux in, got 'caption' (text); "
            "allowed: one wave input, plus one text input with captions: true",
        ),
        # captions: true without a caption input: silently wrote no caption track
        (
            {"input": ["vocoder"], "params": {"captions": True}},
            "params.captions",
            "mux stage 'mux' sets captions: true but reads no text input (it reads 'vocoder' (wave)); "
            "add a caption stage to its input or set captions: false",
        ),
        # a caption input with captions: false: silently dropped
        (
            {"input": ["vocoder", "caption"], "params": {"captions": False}},
            "params.captions",
            "mux stage 'mux' reads text from 'caption' but captions is false",
        ),
    ],
    ids=["captions-only", "captions-without-text", "text-without-captions"],
)
def test_mux_inputs_are_checked_at_load(tmp_path, bundles, mux, key, says):
    path = pipeline(tmp_path, bundles, **mux)
    where = f"{path}: stages[{mux_index(path)}].{key}: "
    with pytest.raises(ConfigError) as err:
        load_pipeline(path)
    assert where + says in str(err.value)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2 and says in result.output


def test_format_is_one_of_the_choices(tmp_path, bundles):
    path = pipeline(tmp_path, bundles, params={"captions": True, "format": "avi"})
    with pytest.raises(
        ConfigError,
        match=r"stages\[8\]\.params\.format: Input should be 'auto', 'mp4', 'mkv' or 'webm' \(got 'avi'\)",
    ):
        load_pipeline(path)


def test_validate_names_the_formats_mux_may_write(bundles):
    spec = load_pipeline(PIPELINES / "sound.yaml", bundle_overrides(bundles, "sound.yaml"))
    assert "mux [mux, sink] <- vocoder -> with_sound.{mp4,webm,mkv}" in describe(spec)
    spec = load_pipeline(
        PIPELINES / "sound.yaml", [*bundle_overrides(bundles, "sound.yaml"), "stages.mux.params.format=mkv"]
    )
    assert "mux [mux, sink] <- vocoder -> with_sound.mkv" in describe(spec)


def vp8_clip(path: Path) -> Path:
    """A tiny VP8 WebM (no audio), like make_clip's H.264 ones."""
    frames = np.random.default_rng(0).integers(0, 255, size=(8, 24, 32, 3), dtype=np.uint8)
    return write_video(path, frames, fps=8.0, codec="libvpx")


def test_the_result_names_the_file_written(tmp_path, bundles):
    # A VP8 WebM failed here: "cannot write .mp4 output ('mp4' format does not support 'libvpx' codec)".
    clips = tmp_path / "in"
    clips.mkdir()
    vp8, h264 = vp8_clip(clips / "vp8.webm"), make_clip(clips / "h264.mp4")
    out = tmp_path / "out"
    spec = load_pipeline(pipeline(tmp_path, bundles, params={"captions": True}))
    result = run_pipeline(spec, expand_inputs([clips]), out, progress=False)
    assert result.counts["ok"] == 2, [r.error for r in result.results]
    outputs = {r["id"]: r["outputs"]["with_sound"] for r in read_results(out)}
    assert outputs == {"vp8": "vp8/with_sound.webm", "h264": "h264/with_sound.mp4"}
    for clip_id, src in (("vp8", vp8), ("h264", h264)):
        with av.open(str(out / outputs[clip_id])) as got, av.open(str(src)) as want:
            packets = [[bytes(p) for p in c.demux(c.streams.video[0]) if p.size] for c in (got, want)]
            assert packets[0] == packets[1]
            assert [s.type for s in got.streams] == ["video", "audio", "subtitle"]
    # a rerun finds them complete; a format that cannot hold VP8 is that clip's clear error
    rerun = run_pipeline(spec, expand_inputs([clips]), out, progress=False)
    assert rerun.counts["skipped"] == 2
    spec = load_pipeline(pipeline(tmp_path, bundles, params={"captions": True, "format": "mp4"}))
    result = run_pipeline(spec, expand_inputs([vp8]), tmp_path / "named", progress=False)
    (failed,) = result.results
    assert failed.status == "failed" and failed.error["type"] == "UnsupportedCodecError"
    assert "MP4 cannot hold video codec 'vp8'; use format auto, webm or mkv" in failed.error["message"]
