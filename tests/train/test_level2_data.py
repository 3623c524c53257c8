"""Training and scoring read the level-2 synthetic world: its config, and every sound of its events."""

import pytest

from avseq.data.manifest import Event, ManifestEntry
from avseq.errors import ConfigError
from avseq.report.scoring import references_from_manifest
from avseq.train.config import load_config
from avseq.train.data import synth_config

CONFIG = """
data:
  synth: {level: 2, width: 64, height: 48, min_duration: 4, max_duration: 5}
  splits:
    train: {clips: 2}
    val: {clips: 1}
preprocessing: {fps: 8, frame_size: [32, 32]}
system:
  kind: sound
  encoder: {name: compact}
optim: {lr: 0.001}
train: {steps: 2}
"""


def test_data_synth_level_2_builds_the_level_2_world(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text(CONFIG)
    world = synth_config(load_config(path))
    assert world.level == 2 and (world.width, world.height) == (64, 48)
    path.write_text(CONFIG.replace("width: 64", "widht: 64"))
    with pytest.raises(ConfigError, match=r"data\.synth: .*widht"):
        synth_config(load_config(path))


def test_scoring_references_hold_every_sound_of_a_span_event(tmp_path):
    """A level-2 event is an action with several hits: the onset references are all of them,
    not only the action's start (which scored the later hits as false alarms)."""
    span = Event(1.0, "red metal ball", "metal", "stick_hit", 0.9, end=2.5, onsets=(1.2, 1.9, 2.4))
    single = Event(3.0, "blue glass cube", "glass", "floor_hit", 0.5)
    clip = tmp_path / "clip.mp4"
    entry = ManifestEntry(clip, "clip", events=(span, single))
    assert entry.onsets == [1.2, 1.9, 2.4, 3.0]
    (reference,) = references_from_manifest([entry]).values()
    assert list(reference.onsets) == [1.2, 1.9, 2.4, 3.0]
