"""The one device rule (avseq.devices): each caller's error names the option the user set."""

from __future__ import annotations

import re

import pytest
import torch

from avseq.devices import resolve_device
from avseq.errors import ConfigError


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_auto_is_the_cpu_without_a_gpu(no_cuda):
    assert resolve_device("auto", "device") == torch.device("cpu")
    assert resolve_device("cpu", "train.device") == torch.device("cpu")


@pytest.mark.parametrize("option", ["device", "stages.enc.device", "train.device", "--device"])
def test_cuda_without_a_gpu_names_the_option(no_cuda, option):
    expected = rf"^{re.escape(option)} 'cuda:1' asks for CUDA, which is not available here; use cpu or auto$"
    with pytest.raises(ConfigError, match=expected):
        resolve_device("cuda:1", option)


def test_a_malformed_name_lists_the_choices():
    with pytest.raises(ConfigError, match=r"^train\.device 'gpu' is not a device; use one of auto, cpu"):
        resolve_device("gpu", "train.device")


def test_eval_device_error_names_the_flag(no_cuda, tmp_path, invoke):
    (tmp_path / "test.jsonl").write_text("", encoding="utf-8")
    result = invoke("eval", "no-such-bundle", "--data", tmp_path, "--device", "cuda", "--quiet")
    assert result.exit_code == 2, result.output
    assert "error: --device 'cuda' asks for CUDA, which is not available here" in result.output
    assert "train.device" not in result.output


def test_pipeline_and_training_errors_name_their_keys(no_cuda, tmp_path):
    from avseq.pipeline.loading import parse_pipeline
    from avseq.pipeline.plan import BuildContext
    from avseq.train import train
    from avseq.train.config import config_from_dict

    doc = {"version": 1, "device": "cuda", "stages": [{"id": "decode", "type": "decode_video"}]}
    spec = parse_pipeline(doc)
    with pytest.raises(ConfigError, match=r"^device 'cuda' asks for CUDA"):
        BuildContext(spec).device(spec.stage("decode"))
    spec.stage("decode").device = "cuda:0"
    with pytest.raises(ConfigError, match=r"^stages\.decode\.device 'cuda:0' asks for CUDA"):
        BuildContext(spec).device(spec.stage("decode"))
    data = {"synth": {}, "splits": {"train": {"clips": 1}, "val": {"clips": 1}}}
    cfg = config_from_dict({"data": data, "system": {"kind": "sound"}, "train": {"device": "cuda"}})
    with pytest.raises(ConfigError, match=r"^train\.device 'cuda' asks for CUDA"):
        train(cfg, tmp_path / "run")
