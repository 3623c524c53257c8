"""Preprocessing: validation, JSON round trip, and pipeline overrides that contradict the bundle."""

from __future__ import annotations

import json

import pytest

from avseq.bundles import Preprocessing
from avseq.errors import ConfigError
from avseq.transforms import get_recipe


def test_round_trip_through_json(sound_preprocessing):
    data = json.loads(json.dumps(sound_preprocessing.to_dict()))
    assert Preprocessing.from_dict(data) == sound_preprocessing
    recipe = sound_preprocessing.recipe
    assert recipe.sample_rate == 16000 and recipe == get_recipe("default")


def test_keys_older_bundles_carry_are_read_and_ignored(sound_preprocessing):
    old = {**sound_preprocessing.to_dict(), "sample_rate": 16000, "window": 4.0, "extra": {}}
    assert Preprocessing.from_dict(old) == sound_preprocessing
    assert "window" not in sound_preprocessing.to_dict()


def test_restating_the_bundle_values_is_fine(sound_preprocessing):
    same = {"fps": 8, "frame_size": [17, 11], "mel": "default"}
    assert sound_preprocessing.check_compatible(same) == sound_preprocessing


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"fps": 4}, r"pipeline sets fps=4 but the bundle was trained with fps=8\.0"),
        ({"frame_size": [11, 17]}, r"frame_size=\[H, W\]=\[11, 17\] .* frame_size=\[H, W\]=\[17, 11\]"),
        ({"mel": "mmaudio-16k"}, r"mel=mmaudio-16k\(16000 Hz, n_fft 1024, hop 256, 80 mels\) .* mel=default"),
        ({"num_frames": 16}, r"num_frames=16 but the bundle was trained with num_frames=None"),
    ],
)
def test_contradicting_values_name_both(sound_preprocessing, override, message):
    with pytest.raises(ConfigError, match=message):
        sound_preprocessing.check_compatible(override)


def test_validation_messages():
    with pytest.raises(ConfigError, match="exactly one of fps / num_frames"):
        Preprocessing(frame_size=(8, 8), fps=4.0, num_frames=8)
    with pytest.raises(ConfigError, match=r"frame_size \(8,\): need \[H, W\]"):
        Preprocessing(frame_size=(8,), fps=4.0)
    with pytest.raises(ConfigError, match=r"Invalid fps 0: must be a finite number > 0"):
        Preprocessing(frame_size=(8, 8), fps=0)
    with pytest.raises(ConfigError, match=r"Unknown preprocessing keys \['size'\]"):
        Preprocessing.from_dict({"frame_size": [8, 8], "fps": 4.0, "size": 3})
    with pytest.raises(ConfigError, match=r"frame_transform 'crop'\. Supported: fit, resize"):
        Preprocessing(frame_size=(8, 8), fps=4.0, frame_transform="crop")
