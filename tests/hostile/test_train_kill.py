"""``avseq train`` SIGKILLed in the middle of writing a checkpoint: ``--resume`` uses the last complete one.

tests/train covers a checkpoint interrupted by an exception (cleanup runs); here the process
dies for real, so nothing cleans up the half-written folder.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from avseq.train import checkpoints as ckpt
from avseq.train.loop import train

ROOT = Path(__file__).resolve().parents[2]
DIES_IN_SECOND_SAVE = """
import json, os, signal, sys
from avseq.train import loop
from avseq.train.config import config_from_dict

real, calls = loop.save_training_state, []

def dies_halfway(folder, *args, **kwargs):
    calls.append(folder)
    if len(calls) == 2:  # the bundle is written, the training state half written: SIGKILL now
        (folder / "state.safetensors").write_bytes(b"\\0" * 100)
        os.kill(os.getpid(), signal.SIGKILL)
    return real(folder, *args, **kwargs)

loop.save_training_state = dies_halfway
loop.train(config_from_dict(json.loads(sys.argv[1]), "<killed run>"))
"""


@pytest.mark.slow
def test_sigkill_while_writing_a_checkpoint_then_resume(tiny_config):
    cfg = tiny_config("sound")
    raw = json.dumps(cfg.model_dump(mode="json"))
    child = subprocess.run([sys.executable, "-c", DIES_IN_SECOND_SAVE, raw], cwd=ROOT, capture_output=True)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    run = cfg.output_dir
    stale = [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".step-00000004.")]
    assert stale and (stale[0] / "bundle").is_dir()  # the kill left its half-written folder behind
    assert ckpt.resolve(run).name == "step-00000002"
    result = train(cfg, resume=True)
    assert result.step == 4 and ckpt.resolve(run).name == "step-00000004"
    left = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert "step-00000004" in left and not [n for n in left if n.startswith(".")]  # stale folder pruned
