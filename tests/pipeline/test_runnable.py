"""A pipeline that validates can run: a bundle of the wrong task and a graph that writes nothing
are refused at load time (``avseq validate`` exits 2), each naming the stage, the key and what
is allowed."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from avseq.errors import ConfigError
from avseq.pipeline import load_pipeline
from tests.pipeline.pipeline_helpers import PIPELINES


def test_a_sound_stage_refuses_a_caption_bundle(bundles):
    with pytest.raises(ConfigError) as info:
        load_pipeline(PIPELINES / "sound.yaml", [f"stages.sound.params.bundle={bundles['caption']}"])
    msg = str(info.value)
    assert msg.startswith(f"{PIPELINES / 'sound.yaml'}: stages[2].params.bundle (sound): ")
    assert f"bundle '{bundles['caption']}' is a caption bundle" in msg
    assert "a sound stage runs bundles of kind: sound" in msg


def test_a_caption_stage_refuses_a_sound_bundle(bundles):
    with pytest.raises(ConfigError) as info:
        load_pipeline(PIPELINES / "caption.yaml", [f"stages.caption.params.bundle={bundles['sound']}"])
    msg = str(info.value)
    assert "stages[2].params.bundle (caption): " in msg
    assert f"bundle '{bundles['sound']}' is a sound bundle" in msg
    assert "a caption stage runs bundles of kind: caption, frame_caption" in msg


def test_a_bundle_whose_kind_contradicts_its_config_is_refused(tmp_path, bundles):
    import shutil

    folder = shutil.copytree(bundles["caption"], tmp_path / "relabelled")
    doc = json.loads((folder / "bundle.json").read_text())
    doc["kind"] = "sound"  # the system it builds is still a captioner
    (folder / "bundle.json").write_text(json.dumps(doc))
    with pytest.raises(
        ConfigError, match=r"params.bundle: .*kind 'sound' but its system.config builds kind "
    ):
        load_pipeline(PIPELINES / "caption.yaml", [f"stages.caption.params.bundle={folder}"])


def _without_sinks(name: str) -> dict:
    doc = yaml.safe_load((PIPELINES / name).read_text())
    doc["stages"] = [s for s in doc["stages"] if s["type"] not in ("write_captions", "write_audio", "mux")]
    return doc


def test_a_pipeline_without_an_output_stage_is_refused(tmp_path, bundles):
    path = tmp_path / "nothing.yaml"
    path.write_text(yaml.safe_dump(_without_sinks("caption.yaml")))
    with pytest.raises(ConfigError) as info:
        load_pipeline(path, [f"stages.caption.params.bundle={bundles['caption']}"])
    msg = str(info.value)
    assert msg.startswith(f"{path}: stages: no output stage, so a run would write nothing; ")
    expected = "stage 'caption' (caption) makes text that no stage reads: add a mux or write_captions stage"
    assert f"{expected} reading it" in msg
    assert re.search(r"output stages: .*mux.*write_audio.*write_captions.*write_features", msg)


def test_validate_exits_2_for_each_pipeline_that_could_not_run(invoke, tmp_path, bundles):
    nothing = tmp_path / "nothing.yaml"
    nothing.write_text(yaml.safe_dump(_without_sinks("sound.yaml")))
    cases = [
        (
            PIPELINES / "sound.yaml",
            f"stages.sound.params.bundle={bundles['caption']}",
            "params.bundle (sound)",
        ),
        (
            PIPELINES / "caption.yaml",
            f"stages.caption.params.bundle={bundles['sound']}",
            "params.bundle (caption)",
        ),
        (nothing, f"stages.sound.params.bundle={bundles['sound']}", "stages: no output stage"),
    ]
    for pipeline, override, expected in cases:
        result = invoke("validate", pipeline, "--set", override)
        assert result.exit_code == 2 and expected in result.output, result.output


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"beam_size": 2, "n_best": 3}, "n_best 3 is more than beam_size 2; allowed: 1..2"),
        ({"search": "greedy", "n_best": 2}, "n_best 2 needs search: beam (greedy keeps one); allowed: 1"),
        ({"n_best": 0}, "stages[2].params.n_best: Input should be greater than or equal to 1"),
    ],
)
def test_n_best_must_fit_the_search(bundles, params, expected):
    sets = [f"stages.caption.params.bundle={bundles['caption']}"]
    sets += [f"stages.caption.params.{key}={value}" for key, value in params.items()]
    with pytest.raises(ConfigError) as info:
        load_pipeline(PIPELINES / "caption.yaml", sets)
    assert expected in str(info.value)


def test_the_bundle_stages_run_every_kind_of_system_that_does_their_task():
    from avseq.models.systems import SYSTEMS
    from avseq.pipeline.stages import STAGES

    decodes = sorted(kind for kind, (system, _) in SYSTEMS.items() if hasattr(system, "generate"))
    assert sorted(STAGES.get("caption").bundle_kinds) == decodes
    assert STAGES.get("sound").bundle_kinds == ("sound",)


def test_a_log_mel_with_nowhere_to_go_says_what_reads_it(tmp_path, bundles):
    doc = _without_sinks("sound.yaml")
    doc["stages"] = [s for s in doc["stages"] if s["type"] != "vocoder"]
    path = tmp_path / "mel.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(
        ConfigError,
        match="makes spectrogram that no stage reads: add a vocoder stage reading it, then an output stage",
    ):
        load_pipeline(path, [f"stages.sound.params.bundle={bundles['sound']}"])
