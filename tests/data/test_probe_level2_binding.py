"""tools/probe_level2_binding.py: where the acting object is, its crops, and the figures it prints."""

import numpy as np

from avseq.data.synth.split import clip_seed
from avseq.data.synth.world import COLOURS
from tools.probe_level2_binding import clear_events, crops, probe, scene_object


def test_the_true_position_is_on_the_acting_object():
    """On most frames the pixel at the acting object's position has its colour, nearest in the palette
    (the rest: occluded, or out of the view as the camera pans)."""
    palette = {name: np.array(rgb, float) for name, rgb in COLOURS.items()}
    hits = total = 0
    for i in range(5):
        for event in clear_events(clip_seed("train", i), frames=6):
            for frame, (x, y) in zip(event["frames"], event["position"], strict=True):
                if 0 <= x < frame.shape[1] and 0 <= y < frame.shape[0]:
                    rgb = frame[int(y), int(x)].astype(float)
                    hits += (
                        min(palette, key=lambda c: np.abs(palette[c] - rgb).sum())
                        == event["labels"]["colour"]
                    )
                    total += 1
    assert total >= 20 and hits / total >= 0.75, (hits, total)  # 35 of 40; 8 px to the side: 2 of 41


def test_crops_are_centred_and_zero_outside_the_view():
    frames = np.zeros((2, 10, 12, 3), np.uint8)
    frames[0, 4, 6] = 255
    out = crops(frames, np.array([[6.0, 4.0], [-30.0, 0.0]]), 5)
    assert out.shape == (2, 5, 5, 3) and out[0, 2, 2, 0] == 255 and out[0].sum() == 3 * 255
    assert not out[1].any()  # far outside: all padding


def test_scene_object_is_the_expected_accuracy_of_a_random_object_of_the_scene():
    events = [
        {"labels": {"colour": "red", "shape": "ball", "material": "metal"},
         "objects": [["red", "metal", "ball"], ["blue", "wood", "ball"]]},
    ]  # fmt: skip
    assert scene_object(events) == {"colour": 0.5, "shape": 1.0, "material": 0.5, "mean": 0.667}


def test_the_probe_prints_each_figure_as_it_is_measured():
    lines = []
    result = probe(
        train_clips=3, test_clips=2, steps=2, locator_steps=2, frames=2, workers=1, emit=lines.append
    )
    assert len(lines) == 4 and result["test_events"] > 0
    for key in ("true_position", "predicted_position", "scene_object"):
        assert set(result[key]) == {"colour", "shape", "material", "mean"}
        assert all(0.0 <= v <= 1.0 for v in result[key].values())
    assert result["locator"]["median_error_px"] >= 0
