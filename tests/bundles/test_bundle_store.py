"""Bundle save/load: exact reproduction, refusals with clear messages, atomic writes, names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from avseq.bundles import FORMAT_VERSION, Preprocessing, list_bundled, load, save_bundle
from avseq.bundles import locate as locate_module
from avseq.errors import BundleError
from avseq.models import Tokenizer, build_system
from tests.bundles.conftest import SOUND_CONFIG, TiedToy


def _edit(folder: Path, change) -> None:
    doc = json.loads((folder / "bundle.json").read_text())
    change(doc)
    (folder / "bundle.json").write_text(json.dumps(doc))


def test_sound_bundle_reproduces_outputs_exactly(tmp_path, sound_preprocessing):
    torch.manual_seed(0)
    system = build_system(SOUND_CONFIG).eval()
    frames, lengths = torch.rand(2, 5, 3, 17, 11), torch.tensor([5, 3])
    with torch.no_grad():
        expected, expected_len = system(frames, lengths)
    folder = save_bundle(tmp_path / "snd", system, sound_preprocessing, meta={"seed": 0, "split": "val"})
    bundle = load(folder)
    with torch.no_grad():
        got, got_len = bundle.system(frames, lengths)
    assert torch.equal(got, expected) and torch.equal(got_len, expected_len)
    assert not bundle.system.training and bundle.kind == "sound" and bundle.name == "snd"
    assert bundle.preprocessing == sound_preprocessing and bundle.preprocessing.recipe.n_mels == 64
    assert bundle.meta["seed"] == 0 and bundle.meta["avseq_version"] and bundle.meta["created_at"]
    assert bundle.version.startswith("sha256:") and bundle.tokenizer is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["snd"]  # no temporary folder left


def test_tied_weights_and_tokenizer_round_trip(tmp_path, toy):
    tok = Tokenizer.build(["a red ball bounces", "a blue cube slides"])
    pre = Preprocessing(frame_size=(64, 64), num_frames=8)
    folder = save_bundle(tmp_path / "toy", toy, pre, tokenizer=tok, version="2")
    bundle = load(folder, builder=TiedToy)
    ids = torch.tensor([[1, 4, 6]])
    assert torch.equal(bundle.system(ids), toy(ids))
    assert bundle.system.out.weight is bundle.system.embed.weight
    assert isinstance(bundle.tokenizer, Tokenizer) and bundle.tokenizer.itos == tok.itos
    assert bundle.version == "2"


def test_newer_format_is_refused(tmp_path, toy):
    folder = save_bundle(tmp_path / "b", toy, Preprocessing(frame_size=(8, 8), fps=4.0))
    _edit(folder, lambda d: d.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(
        BundleError, match=rf"b/bundle.json: bundle format_version {FORMAT_VERSION + 1} is newer"
    ):
        load(folder, builder=TiedToy)


def test_missing_keys_are_named(tmp_path, toy):
    folder = save_bundle(tmp_path / "b", toy, Preprocessing(frame_size=(8, 8), fps=4.0))
    _edit(folder, lambda d: d.pop("preprocessing"))
    with pytest.raises(BundleError, match=r"bundle.json: missing keys \['preprocessing'\]"):
        load(folder, builder=TiedToy)


def test_mismatched_weights_are_refused(tmp_path, toy):
    folder = save_bundle(tmp_path / "b", toy, Preprocessing(frame_size=(8, 8), fps=4.0))
    _edit(folder, lambda d: d["system"]["config"].update(dim=6))
    with pytest.raises(
        BundleError, match=r"weights do not match the system config: shape mismatch: embed.weight"
    ):
        load(folder, builder=TiedToy)


def test_changed_weights_file_is_refused(tmp_path, toy):
    folder = save_bundle(tmp_path / "b", toy, Preprocessing(frame_size=(8, 8), fps=4.0))
    data = bytearray((folder / "weights.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (folder / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="checksum differs"):
        load(folder, builder=TiedToy)


def test_pickled_checkpoint_paths_point_to_convert_checkpoint(tmp_path):
    with pytest.raises(
        BundleError, match=r"model\.pt: refusing to load a pickled checkpoint.*convert_checkpoint"
    ):
        load(tmp_path / "model.pt")


def test_unknown_name_lists_bundled(tmp_path, monkeypatch, toy):
    monkeypatch.setattr(locate_module, "_bundled_root", lambda: tmp_path)
    save_bundle(tmp_path / "synth-toy", toy, Preprocessing(frame_size=(8, 8), fps=4.0))
    assert list_bundled() == ["synth-toy"]
    assert load("synth-toy", builder=TiedToy).name == "synth-toy"
    with pytest.raises(BundleError, match=r"No bundle 'nope'.*Bundled: synth-toy"):
        load("nope")


def test_save_is_atomic_and_refuses_to_clobber(tmp_path, toy):
    pre = Preprocessing(frame_size=(8, 8), fps=4.0)
    folder = save_bundle(tmp_path / "b", toy, pre)
    with pytest.raises(BundleError, match="already exists"):
        save_bundle(folder, toy, pre)
    with pytest.raises(BundleError, match="not JSON-able"):
        save_bundle(folder, toy, pre, meta={"when": object()}, overwrite=True)
    assert load(folder, builder=TiedToy).meta.get("when") is None  # old bundle intact
    with torch.no_grad():
        toy.embed.weight.add_(1.0)
    save_bundle(folder, toy, pre, overwrite=True)
    assert torch.equal(load(folder, builder=TiedToy).system.embed.weight, toy.embed.weight)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_mismatch_names_missing_and_unexpected_tensors(toy):
    from avseq.bundles.weights import mismatch

    state = dict(toy.state_dict())
    assert mismatch(state, toy) is None
    state.pop("embed.weight")  # its tied alias out.weight is still there: fine
    assert mismatch(state, toy) is None
    state.pop("out.weight")
    state["head.bias"] = torch.zeros(3)
    assert mismatch(state, toy) == (
        "missing 2 tensors: embed.weight, out.weight; unexpected 1 tensors: head.bias"
    )
