"""A trained bundle carries its model card and its encoder's feature statistics (avseq.train.card)."""

from __future__ import annotations

import json

import torch
from click.testing import CliRunner

from avseq.bundles import load
from avseq.bundles.domain import DomainScorer
from avseq.cli import main
from avseq.data import read_manifest
from avseq.data.clips import load_frames
from avseq.train import train


def test_best_and_last_bundles_carry_a_card_and_a_domain_check_fitted_on_the_run(tiny_config):
    cfg = tiny_config("sound", train={"steps": 5})
    result = train(cfg)
    best, last = load(result.run_dir / "best" / "bundle"), load(result.run_dir / "last" / "bundle")
    for bundle in (best, last):
        card, stats = bundle.card, bundle.feature_stats
        assert "4 clips of avseq's synthetic world, level 1" in card.trained_on
        assert f"step {bundle.meta['step']} of 5" in card.trained_on
        assert "Trained on synthetic clips only" in card.limits[0]
        assert "32x32 frames at 8 fps" in card.intended_inputs
        assert stats.dim == 16 and stats.clips == 4 and stats.threshold > 0
    assert best.card.figures == {
        f"validation {k} (2 clips)": round(v, 4) for k, v in best.meta["val"].items()
    }
    assert "the best checkpoint" in best.card.trained_on
    which = "best" if last.meta["step"] == best.meta["step"] else "last"
    assert f"the {which} checkpoint: step 5 of 5" in last.card.trained_on
    # the statistics are the bundle's own encoder's: its validation clips score under the threshold
    val = read_manifest(cfg.data.root / "val.jsonl")
    scorer = DomainScorer(best.feature_stats)
    for entry in val:
        frames = load_frames(entry.path, best.preprocessing)
        with torch.no_grad():
            feats = best.system.features(frames.data[None], torch.tensor([len(frames)]))
        assert float(scorer(feats, torch.tensor([len(frames)]))[0]) <= best.feature_stats.threshold


def test_bundles_lists_a_trained_run_with_its_card(tiny_config):
    result = train(tiny_config("caption"))
    out = CliRunner().invoke(main, ["bundles", str(result.run_dir), "--json"])
    assert out.exit_code == 0, out.output
    found = json.loads(out.output)
    assert len(found) in (1, 2)  # best and last: one bundle when the last step scored best
    for record in found:
        assert record["kind"] == "caption" and not record["shipped"] and record["problem"] is None
        assert record["card"]["summary"].startswith("One-sentence captions")
        assert record["domain_check"]


def test_no_card_when_turned_off(tiny_config):
    result = train(tiny_config("sound", train={"steps": 2, "card": False}))
    bundle = load(result.run_dir / "best" / "bundle")
    assert bundle.card is None and bundle.feature_stats is None
