"""Pipeline files: each kind of mistake gives one ConfigError line naming file, key path, value, choices."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from avseq.errors import ConfigError
from avseq.models import Tokenizer
from avseq.pipeline import describe, load_pipeline
from tests.pipeline.pipeline_helpers import PIPELINES, SHIPPED_PIPELINES, bundle_overrides
from tools.fuzzing.bundles import PREPROCESSING, save_random_bundle

CAPTION = {
    "version": 1,
    "stages": [
        {"id": "decode", "type": "decode_video", "params": {"fps": 4}},
        {"id": "frames", "type": "frames", "input": "decode", "params": {"size": [16, 16]}},
        {"id": "enc", "type": "encode_frames", "input": "frames", "params": {"encoder": "compact"}},
        {"id": "feat", "type": "write_features", "input": "enc"},
    ],
}


def write(tmp_path: Path, doc, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc), encoding="utf-8")
    return path


def error(tmp_path: Path, doc, overrides=None) -> str:
    path = write(tmp_path, doc)
    with pytest.raises(ConfigError) as info:
        load_pipeline(path, overrides)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message or (overrides and "--set" in message)
    return message


def edited(**stage_changes) -> dict:
    doc = yaml.safe_load(yaml.safe_dump(CAPTION))
    for index, changes in stage_changes.items():
        doc["stages"][int(index[1:])].update(changes)
    return doc


def test_a_valid_file_loads_in_topological_order(tmp_path):
    doc = edited()
    doc["stages"].reverse()
    spec = load_pipeline(write(tmp_path, doc))
    assert [s.id for s in spec.stages] == ["decode", "frames", "enc", "feat"]
    assert spec.stage("frames").params.size == (16, 16)
    assert "enc [encode_frames, batch] <- frames -> features" in describe(spec)


def test_bad_yaml_names_the_line(tmp_path):
    assert re.search(r"not valid YAML at line \d", error(tmp_path, "version: 1\nstages: [\n"))


def test_python_tags_cannot_run(tmp_path):
    msg = error(tmp_path, "version: 1\nstages: !!python/object/apply:os.system ['echo hi']\n")
    assert "not valid YAML" in msg


def test_a_yaml_alias_bomb_gives_a_short_message(tmp_path):
    levels = ['&a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        levels.append(f"&{name} [" + ", ".join([levels[-1]] + [f"*{prev}"] * 8) + "]")
    text = f"version: 1\nstages:\n  - id: x\n    type: decode_video\n    params: {{fps: {levels[-1]}}}\n"
    msg = error(tmp_path, text)
    assert "stages[0].params.fps: Input should be a valid number" in msg and len(msg) < 400


def test_unknown_top_level_key_lists_allowed(tmp_path):
    msg = error(tmp_path, {**CAPTION, "batchsize": 4})
    assert "batchsize: unknown key; allowed: version, device, batch_size" in msg


def test_bad_top_level_value_names_value(tmp_path):
    msg = error(tmp_path, {**CAPTION, "batch_size": 0})
    assert "batch_size: Input should be a positive int or 'auto' (got 0)" in msg
    assert "executor: Input should be 'local' or 'ray' (got 'spark')" in error(
        tmp_path, {**CAPTION, "executor": "spark"}
    )


def test_unknown_stage_type_lists_known(tmp_path):
    msg = error(tmp_path, edited(s2={"type": "encode"}))
    known = "caption, classify, decode_audio, decode_video"
    assert f"stages[2].type: unknown stage type 'encode'; known: {known}" in msg


def test_bad_param_value_names_key_path_value_and_choices(tmp_path):
    doc = {
        **CAPTION,
        "stages": [
            *CAPTION["stages"][:3],
            {"id": "c", "type": "caption", "input": "enc", "params": {"bundle": "x", "search": "sample"}},
        ],
    }
    msg = error(tmp_path, doc)
    assert "stages[3].params.search: Input should be 'greedy' or 'beam' (got 'sample')" in msg
    doc["stages"][3]["params"] = {"bundle": "x", "beam_size": 0}
    assert "stages[3].params.beam_size: Input should be greater than or equal to 1 (got 0)" in error(
        tmp_path, doc
    )


def test_unknown_encoder_lists_known(tmp_path):
    msg = error(tmp_path, edited(s2={"params": {"encoder": "resnet999"}}))
    assert "stages[2].params.encoder: unknown encoder 'resnet999'; known: compact" in msg


def test_every_problem_is_reported_at_once(tmp_path):
    doc = edited(s0={"params": {"fps": 0}}, s2={"params": {"encoder": "compact", "chunk": 2}})
    msg = error(tmp_path, doc)
    assert "stages[0].params.fps: Input should be greater than 0 (got 0); " in msg
    assert "; stages[2].params.chunk: unknown key; allowed: bundle, encoder, options" in msg
    doc["stages"][1]["type"] = "framez"
    msg = error(tmp_path, {**doc, "batch_size": 0, "workerz": 2})
    assert "batch_size: Input should be a positive int or 'auto' (got 0); " in msg
    assert "; stages[1].type: unknown stage type 'framez'; known: " in msg
    assert "; workerz: unknown key; allowed: version" in msg


def test_unknown_param_lists_allowed(tmp_path):
    msg = error(tmp_path, edited(s0={"params": {"fsp": 4}}))
    assert "stages[0].params.fsp: unknown key; allowed: fps, num_frames, size, window, mode" in msg


def test_missing_input_names_existing_ids(tmp_path):
    msg = error(tmp_path, edited(s2={"input": "frame"}))
    assert (
        "stages[2].input: stage 'enc' reads unknown stage 'frame'; stages: decode, frames, enc, feat" in msg
    )


def test_duplicate_ids(tmp_path):
    msg = error(tmp_path, edited(s3={"id": "enc"}))
    assert "stages[3].id: duplicate stage id 'enc' (also stages[2])" in msg


def test_cycles_are_reported(tmp_path):
    doc = edited(s1={"input": ["decode"]}, s2={"input": "frames"})
    doc["stages"].append({"id": "frames2", "type": "frames", "input": "frames3"})
    doc["stages"].append({"id": "frames3", "type": "frames", "input": "frames2"})
    msg = error(tmp_path, doc)
    assert (
        "stages form a cycle: frames3 -> frames2 -> frames3" in msg or "frames2 -> frames3 -> frames2" in msg
    )


def test_wrong_value_kind_says_what_is_accepted(tmp_path):
    msg = error(tmp_path, edited(s3={"input": "decode"}))
    assert "cannot read 'decode', which produces video; write_features accepts: features" in msg


def test_source_with_input_and_sink_as_input(tmp_path):
    doc = edited()
    doc["stages"].append({"id": "decode2", "type": "decode_audio", "input": "decode"})
    assert "stage 'decode2' (decode_audio) takes no input (it reads the input file)" in error(tmp_path, doc)
    doc = edited()
    doc["stages"].append({"id": "more", "type": "write_features", "input": "feat"})
    assert "'feat' (write_features) is a sink and produces nothing" in error(tmp_path, doc)


def test_sampling_is_fps_or_num_frames(tmp_path):
    msg = error(tmp_path, edited(s0={"params": {"fps": 4, "num_frames": 8}}))
    assert "give fps or num_frames, not both" in msg


def test_unknown_limit(tmp_path):
    msg = error(tmp_path, {**CAPTION, "limits": {"max_size": 3}})
    assert "unknown limit 'max_size'; allowed: max_duration" in msg


def test_overrides_address_stages_by_id(tmp_path):
    spec = load_pipeline(write(tmp_path, CAPTION), ["stages.decode.params.fps=2.5", "batch_size=3"])
    assert spec.stage("decode").params.fps == 2.5 and spec.batch_size == 3


@pytest.mark.parametrize(
    "override, expected",
    [
        ("stages.decoder.params.fps=2", "has no stage 'decoder'; stages: decode, frames, enc, feat"),
        ("stages.decode.parms.fps=2", "unknown stage key 'parms'; allowed: type, params, input, device"),
        ("batchsize=2", "unknown key 'batchsize'; allowed: version, device"),
        ("batch_size", "expected KEY=VALUE"),
        ("stages.decode.params.fps=fast", "stages[0].params.fps: Input should be a valid number"),
    ],
)
def test_bad_override_is_a_config_error(tmp_path, override, expected):
    assert expected in error(tmp_path, CAPTION, [override])


def test_bundle_contradiction_names_both_values(tmp_path, bundles):
    overrides = [*bundle_overrides(bundles, "caption.yaml"), "stages.frames.params.fps=10"]
    with pytest.raises(ConfigError) as info:
        load_pipeline(PIPELINES / "caption.yaml", overrides)
    msg = str(info.value)
    assert "stages[1].params (frames) sets fps=10.0 but the bundle '" in msg
    assert "' of stage 'caption' needs fps=4.0; remove the key or use a matching bundle" in msg


def test_decode_slower_than_a_branch_needs_is_refused(bundles):
    overrides = [*bundle_overrides(bundles, "caption.yaml"), "stages.decode.params.fps=2"]
    expected = r"\(decode\) sets fps=2.0 but frames stage 'frames' \(for the bundle .* of stage 'caption'\) "
    expected += "needs fps=4;"
    with pytest.raises(ConfigError, match=expected):
        load_pipeline(PIPELINES / "caption.yaml", overrides)


def test_a_faster_decode_feeds_the_branch_at_its_bundle_rate(bundles):
    overrides = [*bundle_overrides(bundles, "caption.yaml"), "stages.decode.params.fps=8"]
    spec = load_pipeline(PIPELINES / "caption.yaml", overrides)
    assert spec.stage("decode").params.fps == 8.0
    assert spec.stage("frames").params.fps == 4.0


def test_bundles_at_different_rates_share_one_decode(tmp_path, bundles):
    doc = json.loads((bundles["caption"] / "bundle.json").read_text())
    tokenizer = Tokenizer.from_dict(doc["tokenizer"])
    slow = save_random_bundle(
        tmp_path / "slow-caption",
        doc["system"]["config"],
        {**PREPROCESSING, "fps": 2.0},
        tokenizer=tokenizer,
        version="test-1",
    )
    overrides = [
        f"stages.caption.params.bundle={slow}",
        f"stages.sound.params.bundle={bundles['sound']}",
    ]
    spec = load_pipeline(PIPELINES / "caption_and_sound.yaml", overrides)
    assert spec.stage("decode").params.fps is None  # the decode samples what each branch needs
    rates = {n.consumer: n.fps for n in spec.needs_of("decode")}
    assert rates == {"caption_frames": 2.0, "sound_frames": 4.0}
    assert spec.stage("caption_frames").params.fps == 2.0
    assert spec.stage("sound_frames").params.fps == 4.0


def test_bundle_fills_what_the_file_leaves_out(bundles):
    spec = load_pipeline(
        PIPELINES / "caption_and_sound.yaml", bundle_overrides(bundles, "caption_and_sound.yaml")
    )
    assert [n.fps for n in spec.needs_of("decode")] == [4.0, 4.0]
    assert [tuple(n.size) for n in spec.needs_of("decode")] == [(16, 16), (16, 16)]
    assert spec.stage("sound_frames").params.size == (16, 16)
    assert spec.stage("decode").params.window == 30


def test_missing_bundle_names_the_stage(tmp_path):
    with pytest.raises(ConfigError, match=r"stages\[2\]\.params\.bundle: No bundle 'nope'"):
        load_pipeline(PIPELINES / "caption.yaml", ["stages.caption.params.bundle=nope"])


def test_features_from_another_bundle_are_refused(tmp_path, bundles):
    doc = yaml.safe_load((PIPELINES / "extract_features.yaml").read_text())
    doc["stages"][1]["params"] = {}
    doc["stages"][2]["params"] = {"bundle": str(bundles["caption"])}
    doc["stages"].append(
        {"id": "snd", "type": "sound", "input": "encode", "params": {"bundle": str(bundles["sound"])}}
    )
    msg = error(tmp_path, doc)
    assert "features must come from the same bundle" in msg


@pytest.mark.parametrize("name", SHIPPED_PIPELINES)
def test_shipped_pipelines_validate(bundles, name):
    spec = load_pipeline(PIPELINES / name, bundle_overrides(bundles, name))
    assert spec.executor == "local" and spec.version == 1


def test_memory_budget_takes_sizes_and_refuses_too_little(tmp_path):
    assert load_pipeline(write(tmp_path, CAPTION), ["memory=2GB"]).memory == 2_000_000_000
    assert load_pipeline(write(tmp_path, CAPTION), ["memory=64MiB"]).memory == 64 << 20
    assert load_pipeline(write(tmp_path, CAPTION)).memory == 512 << 20
    assert "memory: must be at least 16.0MiB of decoded media (got '1k')" in error(
        tmp_path, CAPTION, ["memory=1k"]
    )
    assert "memory: could not parse value and unit" in error(tmp_path, CAPTION, ["memory=lots"])


def test_validate_shows_what_the_decode_plans_for_each_branch(bundles):
    from avseq.pipeline import describe

    spec = load_pipeline(
        PIPELINES / "caption_and_sound.yaml", bundle_overrides(bundles, "caption_and_sound.yaml")
    )
    text = describe(spec)
    assert "for caption_frames: 4 fps, 16x16 (fit)" in text and "for sound_frames: 4 fps, 16x16 (fit)" in text
    assert "memory=512.0MiB" in text
