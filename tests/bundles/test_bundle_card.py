"""A bundle's model card and feature statistics: saved, loaded, read without the weights, refused
when malformed; bundles saved before them (format_version 1) load as before; the shipped bundles
carry both."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from avseq.bundles import FeatureStats, ModelCard, list_bundled, list_cards, load, read_card, save_bundle
from avseq.bundles.domain import clip_scores, fit_feature_stats
from avseq.errors import BundleError
from avseq.models import build_system
from tests.bundles.conftest import SOUND_CONFIG

CARD = ModelCard(
    summary="Sound for tests.",
    trained_on="seeded noise",
    intended_inputs="17x11 clips at 8 fps",
    limits=("knows nothing",),
    figures={"onset F1": 0.5},
    evaluation="none worth the name",
)


def _features(n: int, dim: int, seed: int, shift: float = 0.0) -> list[torch.Tensor]:
    """``n`` clips of (T, dim) features that vary in a few directions only (as an encoder's do)."""
    g = torch.Generator().manual_seed(seed)
    basis = torch.randn(3, dim, generator=torch.Generator().manual_seed(0))
    clips = []
    for _ in range(n):
        t = int(torch.randint(5, 12, (1,), generator=g))
        clips.append(torch.randn(t, 3, generator=g) @ basis + 0.01 * torch.randn(t, dim, generator=g) + shift)
    return clips


def _stats(dim: int = 16) -> FeatureStats:
    return fit_feature_stats(_features(40, dim, 1), _features(20, dim, 2), source="noise", components=4)


def _saved(tmp_path: Path, prep, **kwargs) -> Path:
    torch.manual_seed(0)
    return save_bundle(tmp_path / "b", build_system(SOUND_CONFIG), prep, **kwargs)


def _edit(folder: Path, change) -> None:
    doc = json.loads((folder / "bundle.json").read_text())
    change(doc)
    (folder / "bundle.json").write_text(json.dumps(doc))


def test_a_bundle_saved_with_a_card_and_statistics_round_trips(tmp_path, sound_preprocessing):
    stats = _stats()
    folder = _saved(tmp_path, sound_preprocessing, card=CARD, feature_stats=stats)
    bundle = load(folder)
    assert bundle.card == CARD
    got = bundle.feature_stats
    for name in ("mean", "std", "components", "variances"):
        assert np.array_equal(getattr(got, name), getattr(stats, name)), name  # float32 exactly
    assert (got.threshold, got.train_scores, got.calibration) == (
        pytest.approx(stats.threshold),
        stats.train_scores,
        stats.calibration,
    )
    listed = read_card(folder)  # bundle.json alone
    assert (listed.card, listed.kind, listed.shipped) == (CARD, "sound", False)
    assert json.loads((folder / "bundle.json").read_text())["format_version"] == 2


def test_statistics_set_their_threshold_on_held_out_clips_and_flag_what_is_unlike_them():
    stats = _stats()
    train_max, held_max = stats.train_scores["max"], stats.calibration["held_out_scores"]["max"]
    assert stats.threshold == pytest.approx(2.0 * held_max) and stats.threshold > train_max
    fresh = _features(10, 16, 3)
    unlike = [torch.randn(8, 16, generator=torch.Generator().manual_seed(4))]  # every direction at once
    scores = [float(clip_scores(c[None], torch.tensor([len(c)]), stats)[0]) for c in fresh + unlike]
    assert max(scores[:-1]) < stats.threshold < scores[-1]


def test_a_padded_batch_scores_each_clip_as_alone():
    stats = _stats()
    clips = _features(3, 16, 5)
    lengths = torch.tensor([len(c) for c in clips])
    batch = torch.nn.utils.rnn.pad_sequence(clips, batch_first=True, padding_value=7.0)  # padding ignored
    alone = torch.stack([clip_scores(c[None], torch.tensor([len(c)]), stats)[0] for c in clips])
    torch.testing.assert_close(clip_scores(batch, lengths, stats), alone)


def test_a_bundle_without_a_card_loads_as_before(tmp_path, sound_preprocessing):
    """Saved without a card, and as an older avseq wrote it (format_version 1, no such keys)."""
    folder = _saved(tmp_path, sound_preprocessing)
    assert (load(folder).card, load(folder).feature_stats) == (None, None)

    def version_1(doc):
        doc["format_version"] = 1
        del doc["card"], doc["feature_stats"]

    _edit(folder, version_1)
    bundle = load(folder)
    assert (bundle.card, bundle.feature_stats, bundle.kind) == (None, None, "sound")
    assert read_card(folder).card is None


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("card", {"summary": "x"}, r"card lacks \['trained_on'\]"),
        ("card", {**CARD.to_dict(), "limits": "none"}, r"card\.limits must be a list of strings"),
        (
            "card",
            {**CARD.to_dict(), "license": "MIT"},
            r"card has unknown keys \['license'\]\. Supported: summary",
        ),
        ("card", {**CARD.to_dict(), "figures": {"F1": "high"}}, r"card\.figures must map labels to numbers"),
        ("feature_stats", "threshold=-1", r"feature_stats\.threshold must be a positive number, got -1"),
        (
            "feature_stats",
            "method=knn",
            r"feature_stats\.method: invalid 'knn'\. Supported: minor_components",
        ),
        ("feature_stats", "components=short", r"feature_stats\.components holds \d+ bytes, but shape"),
        ("feature_stats", "mean=short", r"feature_stats\.mean has shape \(15,\), expected \(16,\)"),
    ],
)
def test_a_malformed_card_or_statistics_is_refused_naming_the_key(
    tmp_path, sound_preprocessing, key, value, message
):
    folder = _saved(tmp_path, sound_preprocessing, card=CARD, feature_stats=_stats())

    def change(doc):
        if isinstance(value, dict):
            doc[key] = value
            return
        field, what = value.split("=")
        stats = doc["feature_stats"]
        if what == "short":
            stats[field] = (
                stats[field][:-1] if isinstance(stats[field], list) else {**stats[field], "base64": "AAAA"}
            )
        else:
            stats[field] = int(what) if what.lstrip("-").isdigit() else what

    _edit(folder, change)
    for read in (load, read_card):
        with pytest.raises(BundleError, match=rf"b/bundle\.json: {message}"):
            read(folder)


def test_statistics_of_another_feature_size_are_refused(tmp_path, sound_preprocessing):
    with pytest.raises(
        BundleError, match="feature_stats describe 8-dimensional features, but the system's encoder makes 16"
    ):
        _saved(tmp_path, sound_preprocessing, feature_stats=_stats(dim=8))


def test_cards_of_a_folder_of_bundles_list_the_broken_one_with_why(tmp_path, sound_preprocessing):
    _saved(tmp_path / "a", sound_preprocessing, card=CARD)
    _saved(tmp_path / "c", sound_preprocessing)
    (tmp_path / "d" / "b").mkdir(parents=True)
    (tmp_path / "d" / "b" / "bundle.json").write_text("{")
    cards = list_cards(tmp_path)
    assert [c.path.parent.name for c in cards] == ["a", "c", "d"]
    assert [c.card == CARD for c in cards] == [True, False, False]
    assert cards[2].problem and "not valid JSON" in cards[2].problem
    with pytest.raises(BundleError, match="no bundle there"):
        list_cards(_empty(tmp_path))


def _empty(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


@pytest.mark.parametrize("name", ["synth-caption", "synth-frame-caption", "synth-sound"])
def test_shipped_bundles_carry_a_card_and_statistics_of_their_encoder(name):
    assert name in list_bundled()
    listed = read_card(name)
    card, stats = listed.card, listed.feature_stats
    assert listed.shipped and "synthetic world" in card.trained_on
    assert card.figures and card.limits and card.intended_inputs and card.evaluation
    assert any("Knows only the synthetic world" in limit for limit in card.limits)
    bundle = load(name)
    assert stats.dim == bundle.system.encoder.out_dim and stats.clips >= 800
    held_max = stats.calibration["held_out_scores"]["max"]
    assert stats.threshold == pytest.approx(2 * held_max) and stats.train_scores["max"] < stats.threshold
    # the weights are the ones the version names (untouched by adding the card)
    digest = hashlib.sha256((Path(bundle.path) / "weights.safetensors").read_bytes()).hexdigest()
    assert bundle.version == f"sha256:{digest[:12]}"
