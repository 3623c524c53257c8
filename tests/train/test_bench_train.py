"""tools/bench_train.py times every phase of a config and projects it over the config's steps."""

from avseq.train.config import config_to_yaml
from tools.bench_train import project


def test_every_phase_is_timed_and_projected_over_its_steps(tiny_config, tmp_path):
    cfg = tiny_config(
        "caption",
        train={"steps": 6, "freeze_encoder_at": 2, "captions_per_clip_frozen": 2},
        loss={"self_critical_from": 4, "self_critical_samples": 2},
    )
    path = tmp_path / "tiny.yaml"
    path.write_text(config_to_yaml(cfg))
    out = project(str(path), ["train.steps=7"], steps=1)
    phases = out["phases"]
    assert {k: v["steps"] for k, v in phases.items()} == {
        "encoder_training": 2,
        "frozen": 2,
        "self_critical": 3,
    }
    assert all(v["s_per_step"] > 0 for v in phases.values())
    assert out["projected_s"] == round(sum(v["steps"] * v["s_per_step"] for v in phases.values()), 1)
