"""Fitting the model stages to their device: ``precision`` (autocast), ``batch_size: auto`` and the
out-of-memory retry. CPU tests hold the logic (bf16 autocast runs on the CPU; device memory is
a fake reading; the out-of-memory error is injected); the ``gpu`` tests run the CUDA branches.

Stated tolerance of bf16 / fp16 against fp32, per clip, in units of the fp32 output's largest
magnitude: 99.9% of the log-mel and feature values within 2%, their mean difference within 0.5%;
and the trained caption bundle's greedy captions identical. Measured on the CPU with the shipped
bundles (five noise clips): 99th percentile 0.4%, mean 0.2%, and one log-mel frame of one clip
where bf16 adds a quiet event (5 bins, -4.7 instead of the -8.4 floor): a sound model's output
can flip near a decision, so a maximum-difference bound would not hold.
"""

from __future__ import annotations

import json

import pytest
import torch

from avseq.io.raw import load
from avseq.pipeline import autobatch, expand_inputs, load_pipeline, run_pipeline
from avseq.pipeline.batching import run_batch
from avseq.pipeline.memory import BATCH_EXPANSION, MiB
from avseq.pipeline.plan import BuildContext, build_plan
from avseq.pipeline.precision import autocast_dtype
from avseq.pipeline.stages import make_decoder
from avseq.pipeline.stages.compute import CaptionStage
from avseq.pipeline.workers import DecodePool, Window
from tests.pipeline.pipeline_helpers import full_pipeline, make_clip

TOLERANCE, MEAN_TOLERANCE, SHARE_WITHIN = 0.02, 0.005, 0.999  # see the module docstring
SHIPPED = {"caption": "synth-caption", "sound": "synth-sound"}


@pytest.fixture(scope="module")
def five(tmp_path_factory):
    root = tmp_path_factory.mktemp("five")
    return [make_clip(root / f"c{i}.mp4", seconds=1.0 + 0.25 * i, seed=i, size=(48, 64)) for i in range(5)]


def windows_of(plan, clips) -> list[Window]:
    """Every window of ``clips``, decoded in this process as the workers would."""
    out = []
    for key, clip in enumerate(clips):
        for msg in make_decoder(plan)(clip):
            if isinstance(msg, Window):
                msg.key, msg.values = key, {k: load(v) for k, v in msg.values.items()}
                out.append(msg)
    return out


def batch_outputs(tmp_path, bundles, clips, overrides, device="cpu"):
    """The ClipResults of one batch of ``clips``, keeping the sound, features and captions."""
    spec = load_pipeline(full_pipeline(tmp_path, bundles), [f"device={device}", *overrides])
    plan = build_plan(spec)
    plan.keep = sorted({*plan.keep, "sound", "encode", "caption"})
    results = run_batch(plan, windows_of(plan, clips))
    assert all(r.error is None for r in results), [r.error for r in results]
    return plan, results


def assert_within_tolerance(fp32, other):
    for a, b in zip(fp32, other, strict=True):
        for sid in ("sound", "encode"):
            x, y = a.pieces[sid], b.pieces[sid]
            assert x.dtype == y.dtype == torch.float32  # handed on as float32 whatever ran inside
            scale, diff = float(x.abs().max()), (x - y).abs()
            assert float((diff <= TOLERANCE * scale).float().mean()) >= SHARE_WITHIN, sid
            assert float(diff.mean()) <= MEAN_TOLERANCE * scale, sid


# -- precision ------------------------------------------------------------------------------------


def test_bf16_autocast_on_the_cpu_matches_fp32_within_tolerance(tmp_path, five):
    greedy = ["stages.caption.params.search=greedy"]
    _, fp32 = batch_outputs(tmp_path, SHIPPED, five, ["precision=fp32", *greedy])
    plan, bf16 = batch_outputs(tmp_path, SHIPPED, five, ["precision=bf16", *greedy])
    assert plan.precisions() == {"caption": "bf16", "sound": "bf16", "encode": "bf16"}
    assert_within_tolerance(fp32, bf16)
    assert [r.pieces["caption"] for r in bf16] == [r.pieces["caption"] for r in fp32]


def test_bf16_really_runs_in_bf16(tmp_path, bundles, five):
    _, fp32 = batch_outputs(tmp_path, bundles, five[:1], ["precision=fp32"])
    _, bf16 = batch_outputs(tmp_path, bundles, five[:1], ["precision=bf16"])
    assert not torch.equal(fp32[0].pieces["sound"], bf16[0].pieces["sound"])


def test_auto_is_fp32_on_the_cpu(tmp_path, bundles, clips):
    out = tmp_path / "out"
    spec = load_pipeline(full_pipeline(tmp_path, bundles))
    assert spec.precision == "auto"
    run_pipeline(spec, expand_inputs([clips[0]]), out, progress=False)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["precision"] == "auto"
    assert summary["stage_precision"] == {"caption": "fp32", "sound": "fp32", "encode": "fp32"}


@pytest.mark.parametrize("capability,expected", [((7, 5), torch.float16), ((8, 0), torch.bfloat16)])
def test_auto_on_cuda_is_bf16_where_the_card_computes_it(monkeypatch, capability, expected):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert autocast_dtype("auto", torch.device("cuda")) == expected
    assert autocast_dtype("fp32", torch.device("cuda")) is None
    assert autocast_dtype("fp16", torch.device("cpu")) == torch.float16


def test_a_bad_precision_names_the_choices(tmp_path, bundles):
    from avseq.errors import ConfigError

    with pytest.raises(ConfigError, match=r"precision: Input should be 'auto', 'fp32', 'bf16' or 'fp16'"):
        load_pipeline(full_pipeline(tmp_path, bundles), ["precision=half"])


# -- batch_size: auto -----------------------------------------------------------------------------


def _auto_plan(tmp_path, bundles, monkeypatch, free_bytes, overrides=()):
    """A plan whose batch stages sit on a fake CUDA device with ``free_bytes`` free."""
    spec = load_pipeline(full_pipeline(tmp_path, bundles), ["batch_size=auto", *overrides])
    plan = build_plan(spec, roles=("source",))
    monkeypatch.setattr(BuildContext, "device", lambda self, stage: torch.device("cuda", 0))
    monkeypatch.setattr(autobatch, "device_free_bytes", lambda device: free_bytes)
    return plan


def test_auto_batch_arithmetic():
    assert autobatch.auto_batch_size(10 * 1024 * MiB, 100 * MiB) == 51  # half of 10 GiB in 100 MiB clips
    assert autobatch.auto_batch_size(10 * MiB, 100 * MiB) == 1  # never below one
    assert autobatch.auto_batch_size(80 * 1024 * MiB, MiB) == autobatch.MAX_BATCH


def test_auto_on_a_gpu_divides_free_memory_by_a_windows_device_bytes(tmp_path, bundles, monkeypatch):
    # 2 s windows at the tiny bundles' 4 fps: 8 frames, covering 16x16 from a 1080p source: 16x28
    clip = 8 * 3 * 16 * 28 * BATCH_EXPANSION
    plan = _auto_plan(tmp_path, bundles, monkeypatch, 20 * MiB, ["stages.decode.params.window=2"])
    chosen = autobatch.resolve_batch_size(plan)
    assert chosen.clip_bytes == clip and chosen.free_bytes == 20 * MiB
    assert chosen.size == int(20 * MiB * autobatch.HEADROOM) // clip == 60
    assert chosen.auto and chosen.device == "cuda:0"


def test_auto_without_windows_counts_a_whole_window_budget_per_clip(tmp_path, bundles, monkeypatch):
    plan = _auto_plan(tmp_path, bundles, monkeypatch, 8 * 1024 * MiB, ["memory=512MiB"])
    chosen = autobatch.resolve_batch_size(plan)
    assert chosen.clip_bytes == 64 * MiB * BATCH_EXPANSION  # an eighth of the budget, 16x on the device
    assert chosen.size == 4


def test_auto_on_the_cpu_is_the_default_batch(tmp_path, bundles, clips):
    out = tmp_path / "out"
    spec = load_pipeline(full_pipeline(tmp_path, bundles), ["batch_size=auto"])
    run_pipeline(spec, expand_inputs([clips[0].parent]), out, progress=False)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"]["ok"] == 3 and summary["batch_size"] == autobatch.CPU_BATCH == 8
    assert summary["batch_size_auto"] == {"device": "cpu", "free_bytes": None, "clip_bytes": None}


def test_the_batch_size_option_takes_auto(invoke, tmp_path, bundles, clips):
    out = tmp_path / "out"
    done = invoke("run", full_pipeline(tmp_path, bundles), "-i", clips[0], "-o", out, "--quiet",
                  "--batch-size", "auto", "--precision", "fp32")  # fmt: skip
    assert done.exit_code == 0, done.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["batch_size"] == 8 and summary["precision"] == "fp32"
    bad = invoke("run", full_pipeline(tmp_path, bundles), "-i", clips[0], "-o", out, "--batch-size", "0")
    assert bad.exit_code == 2 and "'0' is not a positive int or auto" in bad.output


# -- out of memory --------------------------------------------------------------------------------


def _oom_above(monkeypatch, limit: int) -> list[int]:
    """Make the caption stage run out of device memory on batches of more than ``limit`` clips;
    returns the list of batch sizes it is called with."""
    calls, original = [], CaptionStage.__call__

    def limited(self, inputs):
        calls.append(len(inputs[0].lengths))
        if calls[-1] > limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
        return original(self, inputs)

    monkeypatch.setattr(CaptionStage, "__call__", limited)
    return calls


def test_a_batch_out_of_memory_runs_again_in_halves(tmp_path, bundles, five, monkeypatch):
    spec = load_pipeline(full_pipeline(tmp_path, bundles))
    plan = build_plan(spec)
    windows = windows_of(plan, five)
    expected = [r.pieces["caption"] for w in windows for r in run_batch(plan, [w])]
    calls = _oom_above(monkeypatch, 2)
    results = run_batch(plan, windows)
    assert calls == [5, 3, 2, 1, 2]  # 5 -> 3 + 2, 3 -> 2 + 1
    assert [r.error for r in results] == [None] * 5
    assert [r.fitted for r in results] == [2, 2, 1, 2, 2]
    assert [r.window for r in results] == windows and [r.pieces["caption"] for r in results] == expected


def test_one_window_that_does_not_fit_fails_its_file_only(tmp_path, bundles, five, monkeypatch):
    plan = build_plan(load_pipeline(full_pipeline(tmp_path, bundles)))
    windows = windows_of(plan, five[:2])
    _oom_above(monkeypatch, 0)
    results = run_batch(plan, windows)
    assert [type(r.error).__name__ for r in results] == ["OutOfMemoryError"] * 2


def test_a_run_lowers_its_batch_size_after_running_out_of_memory(tmp_path, bundles, five, monkeypatch):
    monkeypatch.setattr(DecodePool, "idle", lambda self: False)  # full batches: 4, then the last one
    calls = _oom_above(monkeypatch, 2)
    out = tmp_path / "out"
    spec = load_pipeline(full_pipeline(tmp_path, bundles), ["batch_size=4", "workers=1"])
    result = run_pipeline(spec, expand_inputs(five), out, progress=False)
    assert result.counts["ok"] == 5 and result.counts["failed"] == 0
    assert calls[:3] == [4, 2, 2] and max(calls[3:]) <= 2  # after the first halving: at most 2
    summary = json.loads((out / "summary.json").read_text())
    assert summary["batch_size"] == 2 and summary["oom_halved_batches"] == 1


# -- on a GPU -------------------------------------------------------------------------------------


@pytest.mark.gpu
def test_auto_precision_on_cuda_matches_fp32_within_tolerance(tmp_path, five):
    greedy = ["stages.caption.params.search=greedy"]
    _, fp32 = batch_outputs(tmp_path, SHIPPED, five, ["precision=fp32", *greedy], device="cuda")
    plan, auto = batch_outputs(tmp_path, SHIPPED, five, ["precision=auto", *greedy], device="cuda")
    assert set(plan.precisions().values()) <= {"bf16", "fp16"}
    assert_within_tolerance(fp32, auto)
    assert [r.pieces["caption"] for r in auto] == [r.pieces["caption"] for r in fp32]


@pytest.mark.gpu
def test_auto_batch_size_measures_the_gpu(tmp_path, bundles, clips):
    out = tmp_path / "out"
    spec = load_pipeline(full_pipeline(tmp_path, bundles), ["device=cuda", "batch_size=auto"])
    result = run_pipeline(spec, expand_inputs([clips[0].parent]), out, progress=False)
    assert result.counts["ok"] == 3
    chosen = json.loads((out / "summary.json").read_text())["batch_size_auto"]
    assert chosen["device"].startswith("cuda") and chosen["free_bytes"] > 0 and chosen["clip_bytes"] > 0
    assert 1 <= result.summary["batch_size"] <= autobatch.MAX_BATCH


@pytest.mark.gpu
def test_out_of_memory_on_cuda_releases_the_cache_and_runs_in_halves(tmp_path, bundles, five, monkeypatch):
    plan = build_plan(load_pipeline(full_pipeline(tmp_path, bundles), ["device=cuda"]))
    windows = windows_of(plan, five)
    emptied = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))
    _oom_above(monkeypatch, 2)
    results = run_batch(plan, windows)
    assert [r.error for r in results] == [None] * 5 and len(emptied) == 2
