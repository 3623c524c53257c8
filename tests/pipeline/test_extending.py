"""The three examples of docs/architecture.md ("Adding a stage, an output format, a vocoder"):
each is one definition plus one registration, and a pipeline file can use it at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from pydantic import BaseModel, ConfigDict

from avseq.io import decode_audio
from avseq.io.geometry import cover_size
from avseq.pipeline import load_pipeline, run_pipeline
from avseq.pipeline.inputs import expand_inputs
from avseq.pipeline.stages import STAGES, StageType, register
from avseq.pipeline.stages.contract import FrameNeed
from avseq.types import Features
from avseq.vocoders import VOCODERS, VocoderType, build_vocoder
from avseq.vocoders.griffin_lim import num_samples
from tests.pipeline.pipeline_helpers import bundle_overrides, make_clip

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"


# --- a stage type: mean brightness per frame, at the frame size it asks for -------------------
class BrightnessParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: tuple[int, int] = (8, 8)


class Brightness:
    def __init__(self, spec, ctx):
        pass

    def __call__(self, inputs):  # FrameBatch (B, T, 3, H, W) -> Features (B, T, 1)
        return Features(inputs[0].data.mean(dim=(2, 3, 4))[..., None], inputs[0].lengths)


def brightness_needs(stage, wanted, ctx):  # the frames stage upstream takes its size from this
    return [FrameNeed(fps=4.0, size=stage.params.size, origin=f"stage {stage.id!r}")]


BRIGHTNESS = StageType("brightness", "batch", BrightnessParams, Brightness, ("frames",), "features",
                       needs=brightness_needs)  # fmt: skip


# --- an output format: the captions as plain text, one line per window ------------------------
class WriteText:
    names = staticmethod(lambda params: {"caption_txt": "caption.txt"})

    def __init__(self, spec, ctx):
        pass

    def write(self, folder, inputs, info):
        (folder / "caption.txt").write_text("\n".join(inputs[0]) + "\n", encoding="utf-8")
        return {"caption_txt": "caption.txt"}


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


WRITE_TEXT = StageType("write_text", "sink", NoParams, WriteText, ("text",), None, outputs=WriteText.names)


# --- a vocoder: silence of the right length ---------------------------------------------------
class SilenceOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Silence:
    def __init__(self, recipe):
        self.recipe, self.sample_rate = recipe, recipe.sample_rate

    def __call__(self, log_mel, lengths):
        n = num_samples(lengths, self.recipe)
        return torch.zeros(log_mel.shape[0], int(n.max())), n


SILENCE = VocoderType(SilenceOptions, lambda recipe, options: Silence(recipe))


@pytest.fixture(autouse=True)
def registered():
    """Register the three examples as the docs do; take them out again so other tests' lists of
    known names stay as shipped."""
    register(BRIGHTNESS)
    register(WRITE_TEXT)
    VOCODERS.register("silence")(SILENCE)
    yield
    for registry, name in ((STAGES, "brightness"), (STAGES, "write_text"), (VOCODERS, "silence")):
        del registry._items[name]


def test_a_new_stage_type_registers_states_its_needs_and_runs(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", seconds=1.0, size=(24, 32))
    path = tmp_path / "brightness.yaml"
    path.write_text(json.dumps({"version": 1, "stages": [
        {"id": "decode", "type": "decode_video"},
        {"id": "frames", "type": "frames", "input": "decode"},
        {"id": "bright", "type": "brightness", "input": "frames", "params": {"size": [6, 6]}},
        {"id": "out", "type": "write_features", "input": "bright"},
    ]}))  # fmt: skip
    spec = load_pipeline(path)
    assert spec.stage("frames").params.size == (6, 6) and spec.stage("frames").params.fps == 4.0
    [need] = spec.needs_of("decode")
    assert need.consumer == "frames" and need.size == (6, 6)
    summary = run_pipeline(spec, expand_inputs([str(clip)]), tmp_path / "out", progress=False)
    assert summary.counts["ok"] == 1
    from safetensors.torch import load_file

    features = load_file(str(tmp_path / "out" / "clip" / "features.safetensors"))["features"]
    assert features.shape == (4, 1) and 0.0 < float(features.mean()) < 1.0  # 1 s at 4 fps
    assert cover_size(24, 32, (6, 6)) == (6, 8)  # what the decoder produced for it


def test_a_new_output_format_and_a_new_vocoder_run_in_a_pipeline(tmp_path, bundles):
    doc = yaml.safe_load((PIPELINES / "caption_and_sound.yaml").read_text())
    doc["stages"].append({"id": "text", "type": "write_text", "input": "caption"})
    next(s for s in doc["stages"] if s["id"] == "vocoder")["params"] = {"name": "silence"}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(doc))
    spec = load_pipeline(path, bundle_overrides(bundles, "caption_and_sound.yaml"))
    clip = make_clip(tmp_path / "clip.mp4", seconds=1.0)
    summary = run_pipeline(spec, expand_inputs([str(clip)]), tmp_path / "out", progress=False)
    [result] = summary.results
    assert result.status == "ok" and result.outputs["caption_txt"] == "clip/caption.txt"
    text = (tmp_path / "out" / "clip" / "caption.txt").read_text(encoding="utf-8")
    assert text.strip() == result.captions[0]
    sound = decode_audio(tmp_path / "out" / "clip" / "sound.wav")
    assert float(sound.wave.abs().max()) == 0.0 and sound.duration > 0.9
    vocoder = build_vocoder("silence", spec.provided("vocoder", "mel_recipe"))
    assert vocoder.sample_rate == sound.sample_rate
