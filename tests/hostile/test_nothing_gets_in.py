"""Pipeline / training config files and bundles cannot run code: hostile YAML and malicious pickles."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import yaml

from avseq.errors import ConfigError
from tests.pipeline.pipeline_helpers import bundle_overrides, full_pipeline

ROOT = Path(__file__).resolve().parents[2]


def one_line_error(result) -> str:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, (
        result.output
    )
    return lines[0]


class Payload:
    """Unpickling this creates ``marker`` (a stand-in for any code an attacker wants to run)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


TAG_PAYLOADS = [
    "version: 1\nstages: !!python/object/apply:pathlib.Path.touch [{marker}]\n",
    "version: !!python/object/new:pathlib.Path.touch [{marker}]\nstages: []\n",
    "version: 1\nstages:\n  - {{id: d, type: !!python/name:pathlib.Path.touch }}\n",
    "version: 1\nstages:\n  - {{id: d, type: decode_video, params: !!python/module:os }}\n",
    "version: 1\nstages:\n  - {{id: d, type: decode_video,\n"
    "      params: {{fps: !!python/object/apply:os.system ['touch {marker}']}}}}\n",
]


@pytest.mark.parametrize("text", TAG_PAYLOADS)
def test_python_tags_in_a_pipeline_file_never_run(invoke, tmp_path, text):
    marker = tmp_path / "pwned"
    path = tmp_path / "hostile.yaml"
    path.write_text(text.format(marker=marker))
    for command in ("validate", "run"):
        extra = ["-i", tmp_path, "-o", tmp_path / "out"] if command == "run" else []
        result = invoke(command, path, *extra)
        assert result.exit_code == 2
        assert "not valid YAML" in one_line_error(result)
    assert not marker.exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "name", ["os.system", "avseq.io.probe:probe", "__import__('os').system('id')", "../x.py"]
)
def test_stage_types_come_only_from_the_registry(invoke, tmp_path, name):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "stages": [{"id": "d", "type": name}]}))
    line = one_line_error(invoke("validate", path))
    assert f"stages[0].type: unknown stage type {name!r}; known: " in line and "decode_video" in line


def test_python_tags_in_a_training_config_never_run(tmp_path):
    from avseq.train.config import load_config

    marker = tmp_path / "pwned"
    path = tmp_path / "train.yaml"
    path.write_text(f"system: !!python/object/apply:pathlib.Path.touch [{marker}]\n")
    with pytest.raises(ConfigError):
        load_config(path)
    assert not marker.exists()


def test_a_pickled_checkpoint_offered_as_a_bundle_is_refused_unread(invoke, tmp_path, bundles, clips):
    marker = tmp_path / "pwned"
    evil = tmp_path / "model.pt"
    evil.write_bytes(pickle.dumps(Payload(marker)))
    pipeline = full_pipeline(tmp_path, bundles)
    args = ["run", pipeline, "-i", clips[0], "-o", tmp_path / "out"]
    result = invoke(*args, "--set", f"stages.caption.params.bundle={evil}")
    assert result.exit_code == 2 and "refusing to load a pickled checkpoint" in one_line_error(result)
    assert "torch.load(weights_only=True)" in result.output
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_a_pickle_disguised_as_bundle_weights_is_refused_unread(invoke, tmp_path, bundles, clips):
    import shutil

    marker = tmp_path / "pwned"
    fake = tmp_path / "fake-bundle"
    shutil.copytree(bundles["caption"], fake)
    (fake / "weights.safetensors").write_bytes(pickle.dumps(Payload(marker)))
    sets = [f"stages.caption.params.bundle={fake}"]
    result = invoke(
        "run", full_pipeline(tmp_path, bundles), "--set", *sets, "-i", clips[0], "-o", tmp_path / "o"
    )
    assert result.exit_code == 2 and "weights.safetensors: checksum differs" in one_line_error(result)
    doc = json.loads((fake / "bundle.json").read_text())
    doc["weights"] = {"file": "../model.pt"}
    (fake / "bundle.json").write_text(json.dumps(doc))
    result = invoke("validate", full_pipeline(tmp_path, bundles), "--set", *sets)
    assert result.exit_code == 2 and "must be a .safetensors file inside the bundle" in one_line_error(result)
    assert not marker.exists()


def test_the_shipped_pipelines_validate_with_a_bundle_override(invoke, bundles):
    # the pipeline the fuzzer runs stays loadable through --set (no code paths outside the registry)
    sets = [a for o in bundle_overrides(bundles, "caption_and_sound.yaml") for a in ("--set", o)]
    assert invoke("validate", ROOT / "pipelines" / "caption_and_sound.yaml", *sets).exit_code == 0
