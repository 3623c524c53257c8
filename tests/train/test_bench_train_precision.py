"""tools/bench_train_precision.py times eager fp32 against compile (and bf16 on CUDA) in one run."""

import pytest

from avseq.train.config import config_to_yaml
from tools.bench_train_precision import bench, compare


def test_ratios_and_loss_differences_are_against_eager_fp32():
    results = {
        "eager_fp32": {"steps_per_s": 2.0, "losses": [1.0, 0.5]},
        "bf16": {"skipped": "CUDA-only"},
        "compile": {"steps_per_s": 3.0, "losses": [1.0, 0.75]},
    }
    compare(results)
    assert results["compile"]["ratio_to_eager_fp32"] == 1.5
    assert results["compile"]["loss_max_abs_diff"] == 0.25
    assert results["eager_fp32"]["ratio_to_eager_fp32"] == 1.0
    assert "ratio_to_eager_fp32" not in results["bf16"]


@pytest.mark.slow  # two set-ups and Dynamo tracing: 4-10 s on a busy CPU
def test_cpu_runs_eager_and_compile_and_says_bf16_is_cuda_only(tiny_config, tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(config_to_yaml(tiny_config("sound")))
    small = ["data.splits.train.clips=4", "data.splits.val.clips=2", "data.val_clips=2", "train.batch_size=2"]
    out = bench(str(path), small, steps=2, device="cpu", backend="aot_eager")
    variants = out["variants"]
    assert "CUDA-only" in variants["bf16"]["skipped"] and "CUDA-only" in variants["bf16_compile"]["skipped"]
    assert variants["compile"]["steps_per_s"] > 0 and variants["compile"]["loss_max_abs_diff"] < 1e-5
    assert variants["eager_fp32"]["ratio_to_eager_fp32"] == 1.0 and out["device"] == "cpu"
