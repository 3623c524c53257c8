"""Distributed training: the helpers in one process, then 2 CPU ranks under torchrun.

The torchrun tests launch ``python -m torch.distributed.run --standalone --nproc_per_node 2
-m avseq train CONFIG`` exactly as a user does, with each rank's output redirected to its
own log file, and check the run folder, the per-rank logs and the ranks' weight digests.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import yaml
from safetensors.torch import load_file

from avseq.errors import ConfigError
from avseq.train import checkpoints as ckpt
from avseq.train import distributed
from avseq.train.config import config_from_dict
from avseq.train.data import epoch_plan
from avseq.train.steps import StepStats
from tests.train.conftest import TINY, TINY_DATA

TORCHRUN_ENV = {"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2"}


# --- one process ---------------------------------------------------------------------------


def test_topology_comes_from_torchrun_variables():
    assert distributed.topology_from_env({}) is None
    assert distributed.topology_from_env(TORCHRUN_ENV) == distributed.Topology(1, 1, 2)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WORLD_SIZE": "2", "LOCAL_RANK": "0"}, "WORLD_SIZE is set but RANK is not"),
        ({**TORCHRUN_ENV, "RANK": "one"}, "Invalid RANK 'one': expected an integer"),
        ({**TORCHRUN_ENV, "RANK": "2"}, r"Invalid RANK 2: expected 0 to 1 \(WORLD_SIZE 2\)"),
        ({**TORCHRUN_ENV, "WORLD_SIZE": "0", "RANK": "0"}, "Invalid WORLD_SIZE 0"),
    ],
)
def test_bad_torchrun_variables_are_named(env, message):
    with pytest.raises(ConfigError, match=message):
        distributed.topology_from_env(env)


@pytest.mark.parametrize("ranks", [2, 4])
def test_rank_shards_are_disjoint_and_together_are_the_plan(ranks):
    plan = epoch_plan(n_items=13, batch_size=4, seed=7, epoch=3).batches
    shards = [distributed.shard_batches(plan, r, ranks) for r in range(ranks)]
    for i, batch in enumerate(plan):
        pieces = [shards[r][i] for r in range(ranks)]
        assert all(len(p) == 4 // ranks for p in pieces)
        assert [x for p in pieces for x in p] == batch  # disjoint, complete, in plan order


def test_a_batch_that_does_not_split_evenly_is_refused():
    with pytest.raises(ConfigError, match="train.batch_size 6 does not split evenly over 4 ranks"):
        distributed.check_batch_size(6, 4)
    distributed.check_batch_size(8, 4)
    with pytest.raises(ConfigError, match="a batch of 3 clips does not split evenly over 2 ranks"):
        distributed.shard_batches([[0, 1, 2]], 0, 2)


def test_weights_digest_follows_every_value_name_and_dtype():
    state = {"a.weight": torch.arange(6.0).reshape(2, 3), "b.bias": torch.zeros(3)}
    digest = distributed.weights_digest(state)
    assert distributed.weights_digest(dict(reversed(state.items()))) == digest
    changed = {**state, "b.bias": torch.tensor([0.0, 0.0, 1e-7])}
    assert distributed.weights_digest(changed) != digest
    assert distributed.weights_digest({**state, "b.bias": torch.zeros(3, dtype=torch.float64)}) != digest
    assert distributed.weights_digest({"c.weight": state["a.weight"], "b.bias": state["b.bias"]}) != digest


def test_helpers_leave_a_single_process_untouched(monkeypatch):
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    assert distributed.is_main() and distributed.world_size() == 1 and not distributed.is_distributed()
    stats = StepStats(1.5, 0.3, False, False, 1e-3)
    assert distributed.reduce_step(stats, 4.0) == (stats, 4.0)
    assert distributed.shard_batches([[3, 1], [0, 2]]) == [[3, 1], [0, 2]]
    system = torch.nn.Linear(2, 2)
    assert distributed.wrap(system, None, torch.device("cpu")) is None
    assert distributed.describe_ranks(system) == {}
    rng = torch.get_rng_state()
    distributed.seed_step(0, 5)
    assert torch.equal(torch.get_rng_state(), rng)
    with distributed.process_group(torch.device("cpu")) as topology:
        assert topology is None and not distributed.is_distributed()


def test_other_ranks_are_quiet_and_cannot_claim_a_missing_gpu(monkeypatch):
    for key, value in TORCHRUN_ENV.items():
        monkeypatch.setenv(key, value)
    assert distributed.rank() == 1 and not distributed.is_main()
    cfg = config_from_dict({**copy.deepcopy(TINY["sound"]), "data": TINY_DATA})
    assert cfg.train.progress and not distributed.quiet(cfg).train.progress
    assert distributed.rank_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError, match="LOCAL_RANK 1 has no GPU: 1 visible; use --nproc_per_node 1"):
        distributed.rank_device(torch.device("cuda"))


# --- a one-rank process group in this process ------------------------------------------------


@pytest.fixture
def one_rank_group(tmp_path, monkeypatch):
    """A gloo group of one rank (this process), as a caller of ``train`` might set up."""
    for key, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1"}.items():
        monkeypatch.setenv(key, value)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def _draws() -> tuple[list[float], float, float]:
    return torch.rand(3).tolist(), float(np.random.rand()), random.random()


def test_step_seeds_depend_on_seed_step_and_rank_only(one_rank_group, monkeypatch):
    distributed.seed_step(3, 5)
    first = _draws()
    _draws()  # whatever a step consumed before
    distributed.seed_step(3, 5)
    assert _draws() == first
    distributed.seed_step(3, 6)
    assert _draws() != first
    monkeypatch.setattr(distributed, "rank", lambda: 1)
    distributed.seed_step(3, 5)
    assert _draws() != first


def test_a_group_the_caller_set_up_is_used_and_left_up(one_rank_group):
    with distributed.process_group(torch.device("cpu")) as topology:
        assert topology == distributed.Topology(0, 0, 1) and distributed.is_distributed()
        system = torch.nn.BatchNorm1d(3)
        ranks = distributed.describe_ranks(system)
    assert distributed.is_distributed()
    assert ranks == {
        "distributed": {
            "world_size": 1, "backend": "gloo",
            "weights_sha256": [distributed.weights_digest(system.state_dict())],
        }
    }  # fmt: skip
    stats = StepStats(1.5, 0.3, False, False, 1e-3)
    assert distributed.reduce_step(stats, 4.0) == (stats, 4.0)


# --- two ranks under torchrun --------------------------------------------------------------


def _write_config(folder: Path, data_root: Path) -> Path:
    raw = copy.deepcopy(TINY["sound"])
    raw["data"] = {**TINY_DATA, "root": str(data_root)}
    raw["optim"] = {"lr": 0.003, "warmup_steps": 1}
    raw["train"] = {"steps": 4, "batch_size": 2, "val_every": 4, "log_every": 1, "threads": 1}
    path = folder / "tiny_sound.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _torchrun(config: Path, run_dir: Path, *args: str) -> dict[int, dict[str, str]]:
    """Run ``avseq train`` on 2 CPU ranks; return each rank's stdout and stderr."""
    logs = run_dir.parent / f"{run_dir.name}-logs-{len(list(run_dir.parent.glob('*-logs-*')))}"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "--log-dir", str(logs), "--redirects", "3",
        "-m", "avseq", "train", str(config), "-o", str(run_dir), *args,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    found = {int(p.parent.name): p.parent for p in logs.glob("*/attempt_0/*/stdout.log")}
    out = {r: {s: (f / f"{s}.log").read_text() for s in ("stdout", "stderr")} for r, f in found.items()}
    assert done.returncode == 0, (done.stderr[-2000:], out)
    assert sorted(out) == [0, 1]
    return out


def _steps_logged(run_dir: Path) -> list[int]:
    with (run_dir / "log.csv").open() as f:
        return [int(row["step"]) for row in csv.DictReader(f)]


def _checkpoint_digest(run_dir: Path) -> str:
    tensors = load_file(str(ckpt.resolve(run_dir, "last") / "state.safetensors"))
    return distributed.weights_digest(
        {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    )


@pytest.fixture(scope="module")
def torchrun_runs(tmp_path_factory, tiny_data_root):
    """A 4-step run on 2 ranks stopped at step 2 (with progress bars), then resumed to the end.

    Each launch's run folder state and per-rank output is recorded before the next one.
    """
    root = tmp_path_factory.mktemp("ddp")
    config, run_dir = _write_config(root, tiny_data_root), root / "run"
    stopped = _torchrun(config, run_dir, "--stop-at", "2")
    record = {"stopped": stopped, "run_dir": run_dir}
    record["stopped_checkpoints"] = sorted(p.name for p in (run_dir / ckpt.CHECKPOINTS).iterdir())
    record["stopped_summary"] = json.loads((run_dir / "summary.json").read_text())
    record["stopped_digest"] = _checkpoint_digest(run_dir)
    record["stopped_steps"] = _steps_logged(run_dir)
    record["resumed"] = _torchrun(config, run_dir, "--resume", "--set", "train.progress=false")
    return record


@pytest.mark.slow
def test_two_ranks_end_identical_with_one_checkpoint_and_rank0_output(torchrun_runs):
    out = torchrun_runs["stopped"]
    assert torchrun_runs["stopped_checkpoints"] == [ckpt.step_dir_name(2)]
    summary = torchrun_runs["stopped_summary"]
    assert summary["steps"] == 2 and torchrun_runs["stopped_steps"] == [1, 2]
    ranks = summary["distributed"]
    assert ranks["world_size"] == 2 and ranks["backend"] == "gloo"
    assert ranks["weights_sha256"] == [torchrun_runs["stopped_digest"]] * 2
    assert json.loads(out[0]["stdout"]) == summary
    assert "train:  50%" in out[0]["stderr"]
    assert out[1] == {"stdout": "", "stderr": ""}  # no bar, no log line, no summary from rank 1


@pytest.mark.slow
def test_resume_on_two_ranks_loads_the_checkpoint_everywhere_and_finishes(torchrun_runs):
    run_dir, out = torchrun_runs["run_dir"], torchrun_runs["resumed"]
    assert sorted(p.name for p in (run_dir / ckpt.CHECKPOINTS).iterdir()) == [ckpt.step_dir_name(4)]
    assert _steps_logged(run_dir) == [1, 2, 3, 4]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == 4 and summary["best_step"] == 4
    digests = summary["distributed"]["weights_sha256"]
    assert digests == [_checkpoint_digest(run_dir)] * 2 and digests[0] != torchrun_runs["stopped_digest"]
    assert out[0]["stdout"].startswith("step 4: val_loss=")
    assert json.loads(out[0]["stdout"][out[0]["stdout"].index("{") :]) == summary
    assert out[1] == {"stdout": "", "stderr": ""}
