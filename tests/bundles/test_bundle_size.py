"""A bundle from elsewhere cannot exhaust the machine: the sizes its config implies are checked
against the weights file's header (read without loading) before anything is built."""

from __future__ import annotations

import json
import re
import struct
import time
from pathlib import Path

import pytest
import torch

from avseq.bundles import Preprocessing, load, save_bundle
from avseq.errors import BundleError
from avseq.models import build_system
from tests.bundles.conftest import SOUND_CONFIG, TiedToy


def _edit(folder: Path, change) -> None:
    doc = json.loads((folder / "bundle.json").read_text())
    change(doc)
    (folder / "bundle.json").write_text(json.dumps(doc))


@pytest.fixture
def sound_bundle(tmp_path, sound_preprocessing) -> Path:
    torch.manual_seed(0)
    return save_bundle(tmp_path / "snd", build_system(SOUND_CONFIG), sound_preprocessing)


def test_a_config_that_implies_terabytes_is_refused_before_anything_is_built(sound_bundle):
    _edit(sound_bundle, lambda d: d["system"]["config"]["model"].update(hidden_size=2_000_000))
    start = time.perf_counter()
    with pytest.raises(BundleError) as info:
        load(sound_bundle)
    assert time.perf_counter() - start < 5.0
    msg = str(info.value)
    assert msg.startswith(
        f"{sound_bundle / 'weights.safetensors'}: weights do not match the system config: "
        "shape mismatch: model.head.weight (64, 2000000) vs file (64, 16)"
    )
    assert re.search(
        r"system.config implies [\d,]+ parameters and buffers \(128.0 TB\), the file holds ", msg
    )


def test_a_small_mismatch_names_the_tensor_and_both_shapes(sound_bundle):
    _edit(sound_bundle, lambda d: d["system"]["config"]["model"].update(hidden_size=17))
    with pytest.raises(BundleError, match=r"vs file \(64, 16\)"):
        load(sound_bundle)


def test_weights_over_the_cap_are_refused(sound_bundle):
    from avseq.bundles.weights import read_header

    size = sum(t.bytes for t in read_header(sound_bundle / "weights.safetensors").values())
    assert load(sound_bundle, max_bytes=size).kind == "sound"
    with pytest.raises(BundleError, match=rf"weights take {size} bytes, over the cap of {size - 1} bytes"):
        load(sound_bundle, max_bytes=size - 1)


def test_the_header_is_read_without_loading_the_tensors(sound_bundle):
    from avseq.bundles.weights import read_header

    header = read_header(sound_bundle / "weights.safetensors")
    state = build_system(SOUND_CONFIG).state_dict()
    assert {k: v.shape for k, v in header.items()} == {k: tuple(t.shape) for k, t in state.items()}
    assert all(v.bytes == state[k].element_size() * state[k].numel() for k, v in header.items())
    assert header["model.head.weight"].dtype == "F32"


def _header_file(path: Path, header: bytes, data: bytes = b"", length: int | None = None) -> Path:
    path.write_bytes(struct.pack("<Q", len(header) if length is None else length) + header + data)
    return path


@pytest.mark.parametrize(
    ("length", "header", "data", "expected"),
    [
        (10**12, b"{}", b"", "header of 1000000000000 bytes is longer than the file"),
        (None, b"[1, 2]", b"", "header must be a JSON object"),
        (None, b"{not json", b"", "header is not valid JSON"),
        (
            None,
            json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode(),
            b"\0" * 8,
            "tensor 'w': data_offsets [0, 16] reach past the 8 bytes of data",
        ),
        (
            None,
            json.dumps({"w": {"dtype": "F32", "shape": [10**9], "data_offsets": [0, 8]}}).encode(),
            b"\0" * 8,
            "tensor 'w': shape [1000000000] of F32 takes 4000000000 bytes, but data_offsets [0, 8] hold 8",
        ),
        (
            None,
            json.dumps({"w": {"dtype": "Q7", "shape": [2], "data_offsets": [0, 8]}}).encode(),
            b"\0" * 8,
            "tensor 'w': unknown dtype 'Q7'; known: ",
        ),
        (
            None,
            json.dumps({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}).encode(),
            b"\0" * 8,
            "tensor 'w': shape must be a list of non-negative integers, got [-2]",
        ),
    ],
)
def test_a_malformed_header_is_refused(tmp_path, length, header, data, expected):
    from avseq.bundles.weights import read_header

    path = _header_file(tmp_path / "w.safetensors", header, data, length)
    with pytest.raises(BundleError, match=re.escape(expected)):
        read_header(path)


def test_a_custom_builder_is_checked_the_same_way(tmp_path, toy):
    folder = save_bundle(tmp_path / "toy", toy, Preprocessing(frame_size=(8, 8), fps=4.0))
    assert load(folder, builder=TiedToy).system.out.weight is not None
    _edit(folder, lambda d: d["system"]["config"].update(vocab=10**7, dim=10**6))
    with pytest.raises(BundleError, match=r"embed\.weight \(10000000, 1000000\) vs file \(7, 5\)"):
        load(folder, builder=TiedToy)


def test_a_replaced_weights_file_is_reported_as_replaced_before_its_header_is_read(sound_bundle):
    (sound_bundle / "weights.safetensors").write_bytes(b"x" * 100)
    with pytest.raises(BundleError, match="weights.safetensors: checksum differs from bundle.json"):
        load(sound_bundle)
    _edit(sound_bundle, lambda d: d["weights"].pop("sha256"))  # no checksum: the header says why
    with pytest.raises(BundleError, match=r"safetensors: header of \d+ bytes is longer than the file"):
        load(sound_bundle)


def test_sizing_on_the_meta_device_skips_parameter_init():
    """Loading sizes the system on the meta device without initializing it: meta's normal_ loads
    torch._dynamo on first use (0.7 s of every run's start-up, found by tools/bench_real.py)."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom avseq.bundles import load\n"
        "for name in ('synth-caption', 'synth-sound'):\n    load(name)\n"
        "print('torch._dynamo' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"
