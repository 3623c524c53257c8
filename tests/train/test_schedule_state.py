import json
import random

import numpy as np
import pytest
import torch

from avseq.train import checkpoints as ckpt
from avseq.train.schedule import build_scheduler, lr_factor
from avseq.train.state import CheckpointError, load_training_state, save_training_state


def test_warmup_then_cosine_and_linear_decay():
    f = [lr_factor(s, 10, 4, "cosine", 0.1) for s in range(12)]
    assert f[:4] == pytest.approx([0.2, 0.4, 0.6, 0.8]) and f[4] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[4:], f[5:], strict=False)) and f[10] == pytest.approx(0.1)
    assert lr_factor(7, 10, 4, "linear") == pytest.approx(0.5)
    assert lr_factor(9, 10, 0, "constant") == 1.0
    with pytest.raises(ValueError, match=r"Invalid decay 'step'\. Supported: cosine, linear, constant"):
        lr_factor(0, 10, 0, "step")


def _setup(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=0.1, betas=(0.8, 0.95))
    sched = build_scheduler(opt, 20, 3)
    return model, opt, sched


def _steps(model, opt, sched, n):
    for _ in range(n):
        opt.zero_grad()
        x = torch.randn(5, 3)
        torch.nn.functional.dropout(model(x), 0.5).pow(2).mean().backward()
        opt.step()
        sched.step()


def test_state_round_trip_restores_everything_without_pickle(tmp_path):
    model, opt, sched = _setup()
    _steps(model, opt, sched, 4)
    random.seed(5)
    np.random.seed(6)
    save_training_state(tmp_path, model, opt, sched, 4, {"best_value": 0.5})
    expected = (random.random(), np.random.rand(), torch.rand(1))
    _steps(model, opt, sched, 3)
    after = [p.detach().clone() for p in model.parameters()]

    model2, opt2, sched2 = _setup(seed=1)
    random.seed(0)
    step, extra = load_training_state(tmp_path, model2, opt2, sched2)
    assert (step, extra) == (4, {"best_value": 0.5})
    assert (random.random(), np.random.rand(), torch.rand(1)) == expected
    assert opt2.param_groups[0]["betas"] == (0.8, 0.95)
    assert sched2.last_epoch == 4
    _steps(model2, opt2, sched2, 3)
    assert all(torch.equal(a, b) for a, b in zip(after, model2.parameters(), strict=True))
    doc = json.loads((tmp_path / "state.json").read_text())
    assert doc["step"] == 4 and "optimizer" in doc
    assert b"pickle" not in (tmp_path / "state.safetensors").read_bytes()[:200]


def test_incomplete_or_mismatched_state_is_refused(tmp_path):
    model, opt, sched = _setup()
    with pytest.raises(CheckpointError, match="state.safetensors is missing"):
        load_training_state(tmp_path, model, opt, sched)
    save_training_state(tmp_path, model, opt, sched, 1)
    other = torch.nn.Linear(2, 2)
    with pytest.raises(CheckpointError, match="weights do not fit the model"):
        load_training_state(tmp_path, other, torch.optim.AdamW(other.parameters()), sched)


def test_checkpoint_written_halfway_leaves_the_last_complete_one(tmp_path):
    model, opt, sched = _setup()

    def good(folder):
        save_training_state(folder, model, opt, sched, 1)

    first = ckpt.write_checkpoint(tmp_path, 1, good)
    ckpt.point(tmp_path, "last", first)

    def killed(folder):
        save_training_state(folder, model, opt, sched, 2)
        (folder / "state.json").unlink()  # as if killed before the document was written
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ckpt.write_checkpoint(tmp_path, 2, killed)
    assert ckpt.resolve(tmp_path, "last") == first.resolve()
    assert not (tmp_path / "checkpoints" / "step-00000002").exists()
    assert load_training_state(ckpt.resolve(tmp_path), model, opt, sched)[0] == 1
    second = ckpt.write_checkpoint(tmp_path, 3, good)
    ckpt.point(tmp_path, "last", second)
    ckpt.prune(tmp_path)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step-00000003"]
    with pytest.raises(ValueError, match=r"Invalid checkpoint link 'first'"):
        ckpt.point(tmp_path, "first", second)
