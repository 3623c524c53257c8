import pytest

from avseq.errors import ConfigError
from avseq.train.config import apply_overrides, config_from_dict, load_config

BASE = """
data:
  synth: {width: 32, height: 32}
  splits:
    train: {clips: 4}
    val: {clips: 2}
preprocessing: {fps: 8, frame_size: [32, 32]}
system:
  kind: caption
  encoder: {name: compact}
optim: {lr: 0.001}
train: {steps: 10}
"""


def write(tmp_path, text=BASE):
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return path


def test_loads_with_overrides_and_defaults(tmp_path):
    cfg = load_config(write(tmp_path), ["optim.lr=3e-4", "train.batch_size=4", "output_dir=out/x"])
    assert cfg.optim.lr == pytest.approx(3e-4) and cfg.train.batch_size == 4
    assert cfg.kind == "caption" and cfg.val_metric == "CIDEr"
    assert str(cfg.output_dir) == "out/x" and cfg.optim.decay == "cosine"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.lr=-1", r"cfg\.yaml: optim\.lr: Input should be greater than 0 \(got -1\)"),
        (
            "optim.decay=step",
            r"optim\.decay: Input should be 'cosine', 'linear' or 'constant' \(got 'step'\)",
        ),
        ("train.stepz=3", r"train\.stepz: unknown key; allowed: steps, batch_size"),
        ("loss.floor=-5", r"loss\.floor: unknown key; it is now system\.model\.floor"),
        (
            "system.kind=detect",
            r"system\.kind must be one of caption, sound, dense_caption, classify, frame_caption, "
            r"got 'detect'",
        ),
        ("data.train_split=dev", r"split 'dev' is not defined; defined: train, val"),
        ("bogus=1", r"unknown key 'bogus'; allowed: data, preprocessing"),
        ("optim.lr", r"expected KEY=VALUE"),
        ("loss.word_bce=1", r"loss\.word_bce needs system\.model\.word_head: true"),
        ("loss.onset_bce=1", r"loss\.onset_bce needs system\.model\.onset_head: true"),
        (
            "train.compile_backend=tvm",
            r"train\.compile_backend: Input should be 'inductor', 'aot_eager' or 'eager' \(got 'tvm'\)",
        ),
    ],
)
def test_errors_name_file_key_value_and_choices(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path), [override])


def test_every_bad_key_is_reported_with_its_path_value_and_choices(tmp_path):
    overrides = ["optim.lr=-1", "train.stepz=3", "data.splits.train.clipz=2", "loss.kind=l3"]
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path), overrides)
    msg = str(info.value)
    assert msg.startswith(f"{tmp_path / 'cfg.yaml'}: data.splits.train.clipz: unknown key; allowed: clips, ")
    assert "; optim.lr: Input should be greater than 0 (got -1); " in msg
    assert "; loss.kind: Input should be 'l1' or 'mse' (got 'l3'); " in msg
    assert "; train.stepz: unknown key; allowed: steps, batch_size" in msg and "\n" not in msg


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "data: [unclosed"))
    with pytest.raises(ConfigError, match="must be a mapping, got list"):
        config_from_dict([1, 2])


def test_overrides_create_nested_keys_and_refuse_scalars():
    raw = apply_overrides({"optim": {"lr": 1}}, ["optim.betas=[0.8, 0.9]", "system.model.hidden_size=8"])
    assert raw["optim"]["betas"] == [0.8, 0.9] and raw["system"]["model"]["hidden_size"] == 8
    with pytest.raises(ConfigError, match="optim.lr is 1, not a mapping"):
        apply_overrides({"optim": {"lr": 1}}, ["optim.lr.x=2"])


def test_manifest_paths_are_relative_to_the_config(tmp_path):
    text = BASE.replace(
        "  synth: {width: 32, height: 32}\n  splits:\n    train: {clips: 4}\n    val: {clips: 2}\n",
        "  manifests: {train: m/train.jsonl, val: /abs/val.jsonl}\n",
    )
    cfg = load_config(write(tmp_path, text))
    assert cfg.data.manifests["train"] == tmp_path / "m/train.jsonl"
    assert str(cfg.data.manifests["val"]) == "/abs/val.jsonl"


@pytest.mark.parametrize(
    "name", ["caption_synth", "sound_synth", "caption_msvd", "caption_msrvtt", "sound_vggsound"]
)
def test_shipped_configs_validate_and_build(name):
    from pathlib import Path

    from avseq.models import Tokenizer, build_system
    from avseq.train.data import preprocessing
    from avseq.train.loop import system_config

    cfg = load_config(Path(__file__).parents[2] / "configs" / f"{name}.yaml")
    tokenizer = Tokenizer.build(["a red ball bounces"]) if cfg.kind == "caption" else None
    system = build_system(system_config(cfg, preprocessing(cfg), tokenizer), load_weights=False)
    assert system.kind == cfg.kind
