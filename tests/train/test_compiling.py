"""train.compile: the training forward runs compiled, everything else eager; weights and bundles
are those of an eager run."""

import csv

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from avseq.bundles import load
from avseq.bundles.document import WEIGHTS
from avseq.errors import ConfigError
from avseq.models import build_encoder
from avseq.train import compiling
from avseq.train.loop import train


class _Parts(nn.Module):
    """Stands in for a system: a frame ``encoder`` and a ``model``."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = build_encoder("compact", out_dim=4, width=4, depth=2)
        self.model = nn.Linear(4, 2)

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.model(self.encoder(frames, lengths))


@pytest.fixture
def compiled_calls(monkeypatch):
    """torch.compile replaced by a wrapper that records which function ran compiled."""
    calls: list[str] = []

    def fake_compile(fn, backend):
        def run(*args, **kwargs):
            calls.append(fn.__self__.__class__.__name__ + f"/{backend}")
            return fn(*args, **kwargs)

        return run

    monkeypatch.setattr(compiling.torch, "compile", fake_compile)
    return calls


def test_the_forward_runs_compiled_only_while_the_part_trains(compiled_calls):
    parts = _Parts()
    keys = list(parts.state_dict())
    compiling.compile_for_training(parts, "aot_eager")
    compiling.compile_for_training(parts, "aot_eager")  # a second call wraps nothing twice
    assert compiling.compiled_parts(parts) == [parts.model, parts.encoder.backbone]
    assert all(compiling.is_compiled(p) for p in compiling.compiled_parts(parts))
    assert not compiling.is_compiled(parts.encoder)  # its frame masking stays eager
    assert list(parts.state_dict()) == keys  # no wrapper module, no ``_orig_mod.`` prefix
    x = (torch.rand(2, 3, 3, 11, 17), torch.tensor([3, 2]))
    parts.train()(*x)
    assert compiled_calls == ["CompactCNN/aot_eager", "Linear/aot_eager"]
    compiled_calls.clear()
    with torch.no_grad():
        parts(*x)
    parts.eval()(*x)  # validation
    assert compiled_calls == []
    parts.train()
    parts.encoder.freeze()  # a frozen encoder runs eagerly, the model still compiled
    parts(*x)
    assert compiled_calls == ["Linear/aot_eager"]


def test_an_unknown_backend_or_a_missing_compiler_is_refused_at_start(tiny_config, monkeypatch):
    with pytest.raises(ConfigError, match=r"Invalid train.compile_backend 'tvm'. Supported: inductor, aot_"):
        compiling.check_backend("tvm", torch.device("cpu"))
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(compiling.shutil, "which", lambda name: None)
    cfg = tiny_config("sound", train={"compile": True, "device": "cpu"})
    with pytest.raises(ConfigError, match=r"needs a C\+\+ compiler, and 'g\+\+' is not on PATH: .*aot_eager"):
        train(cfg)
    assert not (cfg.output_dir / "data").exists()  # refused before any data was prepared
    compiling.check_backend("aot_eager", torch.device("cpu"))  # traces only: no compiler needed


def _losses(run_dir) -> list[float]:
    with (run_dir / "log.csv").open() as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


def _bundle_weights(run_dir) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "last" / "bundle" / WEIGHTS))


@pytest.mark.slow  # 10-20 s on a busy CPU, most of it Dynamo tracing
def test_a_compiled_run_trains_like_an_eager_one_and_saves_the_same_weights(tiny_config, tmp_path):
    steps = {"steps": 2, "val_every": 2, "card": False, "device": "cpu"}
    eager = train(tiny_config("sound", train=steps), tmp_path / "eager")
    on = {**steps, "compile": True, "compile_backend": "aot_eager"}
    compiled = train(tiny_config("sound", train=on), tmp_path / "compiled")
    assert _losses(compiled.run_dir) == pytest.approx(_losses(eager.run_dir), abs=1e-5)
    a, b = _bundle_weights(eager.run_dir), _bundle_weights(compiled.run_dir)
    assert sorted(a) == sorted(b) and not any("_orig_mod" in k for k in b)
    assert all(torch.allclose(a[k], b[k], atol=1e-4) for k in a)  # Adam magnifies float rounding
    assert compiled.last_val["val_loss"] == pytest.approx(eager.last_val["val_loss"], abs=1e-5)
    assert load(compiled.run_dir / "last" / "bundle").kind == "sound"


@pytest.mark.gpu
def test_bf16_and_compile_train_on_cuda(tiny_config, tmp_path):
    on = {"steps": 3, "val_every": 3, "card": False, "device": "cuda", "bf16": True, "compile": True}
    cfg = tiny_config("sound", train=on)
    result = train(cfg, tmp_path / "run")
    losses = _losses(result.run_dir)
    assert len(losses) == 3 and all(torch.isfinite(torch.tensor(losses)))
    weights = _bundle_weights(result.run_dir)
    assert not any("_orig_mod" in k for k in weights)
    assert load(result.run_dir / "last" / "bundle").kind == "sound"
