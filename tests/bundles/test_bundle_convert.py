"""convert_checkpoint: plain and nested state dicts convert; pickles that run code are refused."""

from __future__ import annotations

import pickle

import pytest
import torch

from avseq.bundles import Preprocessing, convert_checkpoint, load
from avseq.errors import BundleError
from tests.bundles.conftest import TiedToy

PRE = Preprocessing(frame_size=(8, 8), fps=4.0)


class _Payload:
    """Unpickling this runs ``exec``: it writes a marker file (harmless, but proves code ran)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def test_state_dict_checkpoint_converts(tmp_path, toy):
    torch.save(toy.state_dict(), tmp_path / "plain.pt")
    folder = convert_checkpoint(tmp_path / "plain.pt", tmp_path / "b", TiedToy(toy.config), PRE)
    bundle = load(folder, builder=TiedToy)
    assert torch.equal(bundle.system.embed.weight, toy.embed.weight)
    assert bundle.meta["converted_from"] == "plain.pt"


def test_nested_ddp_checkpoint_converts(tmp_path, toy):
    state = {f"module.{k}": v for k, v in toy.state_dict().items()}
    torch.save({"epoch": 3, "state_dict": state, "lr": 0.1}, tmp_path / "ddp.pth")
    folder = convert_checkpoint(tmp_path / "ddp.pth", tmp_path / "b", TiedToy(toy.config), PRE)
    assert torch.equal(load(folder, builder=TiedToy).system.out.weight, toy.out.weight)


@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_malicious_pickle_is_refused_without_running_code(tmp_path, toy, writer):
    marker = tmp_path / "marker.txt"
    path = tmp_path / "evil.pt"
    payload = {"state_dict": toy.state_dict(), "hook": _Payload(str(marker))}
    if writer == "pickle":
        path.write_bytes(pickle.dumps(payload, protocol=2))
    else:
        torch.save(payload, path)
    with pytest.raises(BundleError, match=r"evil\.pt: refused: not a plain tensor checkpoint"):
        convert_checkpoint(path, tmp_path / "b", TiedToy(toy.config), PRE)
    assert not marker.exists()
    assert not (tmp_path / "b").exists()


def test_checkpoint_for_another_model_is_refused(tmp_path, toy):
    torch.save(toy.state_dict(), tmp_path / "small.pt")
    bigger = TiedToy({**toy.config, "vocab": 9})
    with pytest.raises(
        BundleError, match=r"small\.pt: weights do not match the system config: shape mismatch"
    ):
        convert_checkpoint(tmp_path / "small.pt", tmp_path / "b", bigger, PRE)
    torch.save({"epoch": 1}, tmp_path / "empty.pt")
    with pytest.raises(BundleError, match=r"no state dict of tensors found \(top level: \['epoch'\]\)"):
        convert_checkpoint(tmp_path / "empty.pt", tmp_path / "b", bigger, PRE)
