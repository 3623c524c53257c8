"""``avseq bundles``: the shipped bundles' cards, a folder's bundles, ``--json``, and never torch."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import torch

from avseq.bundles import ModelCard, save_bundle
from avseq.models import build_system
from tests.bundles.conftest import SOUND_CONFIG
from tests.pipeline.test_startup import BLOCK_TORCH, ROOT

CARD = ModelCard(summary="A test model.", trained_on="noise", limits=("none known",), figures={"F1": 0.25})


def test_lists_the_shipped_bundles_with_their_cards(invoke):
    done = invoke("bundles")
    assert done.exit_code == 0, done.output
    text = done.stdout
    for name in ("synth-caption  (caption, sha256:", "synth-sound  (sound, sha256:"):
        assert name in text
    for part in ("trained on: ", "figures: ", "onset F1 (within 1 frame) 1", "CIDEr 5.2", "limits:",
                 "- Knows only the synthetic world", "domain check: out of domain when"):  # fmt: skip
        assert part in text, part
    assert all(len(line) <= 100 for line in text.splitlines())


def test_json_gives_every_card_in_full(invoke):
    done = invoke("bundles", "--json")
    listed = {b["name"]: b for b in json.loads(done.stdout)}
    assert set(listed) == {
        "synth-caption",
        "synth-frame-caption",
        "synth-sound",
        "synth-level2-classify",
        "synth-level2-dense",
        "synth-level2-sound",
    }
    sound = listed["synth-sound"]
    assert sound["shipped"] and sound["kind"] == "sound" and sound["problem"] is None
    assert sound["card"]["figures"]["onset F1 (within 1 frame)"] == 1.0
    assert sound["domain_check"]["threshold"] > sound["domain_check"]["train_scores"]["max"]


def test_a_folder_of_bundles_lists_each_and_says_which_has_no_card(invoke, tmp_path):
    prep = {"frame_size": [17, 11], "fps": 8.0, "mel": "default"}
    torch.manual_seed(0)
    save_bundle(tmp_path / "runs" / "a" / "bundle", build_system(SOUND_CONFIG), prep, card=CARD, name="mine")
    save_bundle(tmp_path / "runs" / "b" / "bundle", build_system(SOUND_CONFIG), prep, name="old")
    done = invoke("bundles", tmp_path / "runs")
    assert done.exit_code == 0, done.output
    mine, old = done.stdout.split("\n\n")
    assert (
        mine.startswith("mine  (sound, sha256:")
        and "trained on: noise" in mine
        and "figures: F1 0.25" in mine
    )
    assert "domain check: none (no feature statistics" in mine
    assert old.startswith("old  (sound,") and "no model card (saved without one)" in old
    (tmp_path / "runs" / "c").mkdir()
    (tmp_path / "runs" / "c" / "bundle.json").write_text("[]")
    done = invoke("bundles", tmp_path / "runs", "--json")
    assert done.exit_code == 1
    broken = json.loads(done.stdout)[2]
    assert broken["problem"].endswith("must hold a JSON object, got list") and broken["card"] is None


def test_a_folder_without_bundles_is_an_error(invoke, tmp_path):
    done = invoke("bundles", tmp_path)
    assert done.exit_code == 2 and "no bundle there" in done.stderr


def test_never_imports_torch(tmp_path):
    code = BLOCK_TORCH + textwrap.dedent(
        """
        from avseq.cli import main
        try:
            main(["bundles"])
        except SystemExit as done:
            assert done.code == 0 and "torch" not in sys.modules, done.code
        """
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "synth-sound" in done.stdout, done.stderr[-3000:]
