import csv
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from avseq.bundles import load
from avseq.cli import main
from avseq.data.collate import SoundBatch, collate_caption, collate_sound
from avseq.errors import BundleError, ConfigError
from avseq.train import checkpoints as ckpt
from avseq.train import loop
from avseq.train.loop import setup, train
from avseq.train.steps import LossOptions, features_of, train_step
from avseq.types import Frames, Spectrogram
from tests.train.conftest import ENCODER as TINY_ENCODER


def _rows(run_dir):
    with (run_dir / "log.csv").open() as f:
        return list(csv.DictReader(f))


def _weights(run_dir):
    tensors = {}
    from safetensors.torch import load_file

    for key, value in load_file(str(ckpt.resolve(run_dir) / "state.safetensors")).items():
        if key.startswith("model."):
            tensors[key] = value
    return tensors


@pytest.mark.parametrize("kind", ["caption", "sound"])
def test_tiny_config_trains_logs_and_saves_loadable_bundles(tiny_config, kind):
    cfg = tiny_config(kind)
    result = train(cfg)
    run = result.run_dir
    rows = _rows(run)
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    metric = "CIDEr" if kind == "caption" else "onset_f1"
    assert rows[1][metric] != "" and rows[0][metric] == ""
    assert all(float(r["grad_norm"]) > 0 for r in rows)
    assert result.step == 4 and result.best_step in (2, 4)
    bundle = load(run / "best" / "bundle")
    assert bundle.kind == kind and bundle.meta["step"] == result.best_step
    assert bundle.meta["train_config"]["train"]["seed"] == 0
    assert (run / "curves.png").stat().st_size > 1000 and (run / "config.yaml").is_file()
    assert (bundle.tokenizer is not None) == (kind == "caption")


def test_sound_output_starts_at_the_mean_training_level(tiny_config):
    from avseq.train.data import target_levels

    run = setup(tiny_config("sound"), tiny_config("sound").output_dir)
    level, quiet = target_levels(run.train_set, floor=-6.0)
    assert level.shape == (64,) and float(level.min()) >= -6.0 and float(level.max()) > -6.0
    torch.testing.assert_close(run.system.model.head.bias.detach(), level)
    # the quiet level: what the training audio held below the floor (digital silence is -11.5)
    assert float(quiet.max()) <= -6.0 and float(quiet.min()) < -6.0
    torch.testing.assert_close(run.system.model.quiet_level, quiet)
    with pytest.raises(ValueError, match=r"mean_log_mel must be \(64,\)"):
        run.system.model.init_level(torch.zeros(3))


def test_encoder_starts_from_a_bundle_named_in_encoder_weights(tiny_config, tmp_path):
    sound = train(tiny_config("sound"))
    bundle = sound.run_dir / "best" / "bundle"
    trained = load(bundle).system.encoder.state_dict()
    cfg = tiny_config("caption", system={"encoder": {**TINY_ENCODER, "weights": str(bundle)}})
    run = setup(cfg, tmp_path / "from_sound")
    started = run.system.encoder.state_dict()
    assert started.keys() == trained.keys()
    assert all(torch.equal(started[k], trained[k]) for k in trained)
    # the run (and so its bundles) records the bundle it started from, not a weights file path
    assert run.system.config["encoder"]["weights"] == str(bundle)
    # a weights file that is not a bundle still goes to build_encoder as it is
    assert loop.encoder_from_bundle({"encoder": {"weights": "x.safetensors"}}) == {
        "encoder": {"weights": "x.safetensors"}
    }


def test_resumed_run_ends_bit_identical_to_an_uninterrupted_one(tiny_config, tmp_path):
    config = lambda: tiny_config("sound", train={"bn_batches": 1})  # noqa: E731 (BatchNorm redone at each validation)
    straight = train(config(), tmp_path / "straight")
    stopped = train(config(), tmp_path / "resumed", stop_at=3)
    assert stopped.step == 3 and ckpt.resolve(stopped.run_dir).name == "step-00000003"
    with pytest.raises(ConfigError, match="already holds a run; pass --resume"):
        train(config(), tmp_path / "resumed")
    resumed = train(config(), tmp_path / "resumed", resume=True)
    assert resumed.step == 4
    a, b = _weights(straight.run_dir), _weights(resumed.run_dir)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [r["loss"] for r in _rows(straight.run_dir)] == [r["loss"] for r in _rows(resumed.run_dir)]


def test_a_mirrored_sound_run_caches_both_views_once_frozen_and_resumes_exactly(tiny_config, tmp_path):
    config = lambda: tiny_config(  # noqa: E731
        "sound", data={"mirror": 0.5}, train={"steps": 6, "freeze_encoder_at": 2, "bn_batches": 1}
    )
    straight = train(config(), tmp_path / "straight")
    cache = json.loads((straight.run_dir / "summary.json").read_text())["feature_cache"]
    assert cache["misses"] == 2 * 4  # each training clip in both views, encoded once at the freeze
    plain = train(tiny_config("sound", train={"steps": 6, "freeze_encoder_at": 2, "bn_batches": 1}))
    assert [r["loss"] for r in _rows(plain.run_dir)] != [r["loss"] for r in _rows(straight.run_dir)]
    stopped = train(config(), tmp_path / "resumed", stop_at=3)
    resumed = train(config(), stopped.run_dir, resume=True)
    a, b = _weights(straight.run_dir), _weights(resumed.run_dir)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [r["loss"] for r in _rows(straight.run_dir)] == [r["loss"] for r in _rows(resumed.run_dir)]
    with pytest.raises(
        ConfigError, match=r"a caption model's captions can name a side: give data.mirror_words"
    ):
        tiny_config("caption", data={"mirror": 0.5})
    assert tiny_config("caption", data={"mirror": 0.5, "mirror_words": {"left": "right"}}).data.mirror == 0.5
    with pytest.raises(ConfigError, match="data.mirror_words needs data.mirror > 0"):
        tiny_config("caption", data={"mirror_words": {"left": "right"}})
    with pytest.raises(ConfigError, match="data.mirror_words swaps caption words; a sound model has none"):
        tiny_config("sound", data={"mirror": 0.5, "mirror_words": {"left": "right"}})
    with pytest.raises(ConfigError, match="data.mirror"):
        tiny_config("sound", data={"mirror": 1.5})


def test_a_classifier_may_see_mirrored_clips_unless_it_names_a_side():
    from avseq.train.config import config_from_dict

    def classify(**data):
        raw = {
            "data": {"manifests": {"train": "t.jsonl", "val": "v.jsonl"}, **data},
            "system": {"kind": "classify", "encoder": {"name": "compact"}},
        }
        return config_from_dict(raw, "<classify>")

    assert classify(mirror=0.5).data.mirror == 0.5
    with pytest.raises(ConfigError, match="data.attributes names a side: direction"):
        classify(mirror=0.5, attributes=["action", "direction"])
    assert classify(attributes=["action", "direction"]).data.mirror == 0.0


def test_kill_while_writing_a_checkpoint_keeps_the_last_complete_one(tiny_config, monkeypatch):
    real_save = loop.save_training_state
    calls = []

    def dies_second_time(folder, *args, **kwargs):
        calls.append(folder)
        real_save(folder, *args, **kwargs)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(loop, "save_training_state", dies_second_time)
    cfg = tiny_config("sound")
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    run = cfg.output_dir
    assert ckpt.resolve(run).name == "step-00000002"
    assert load(run / "last" / "bundle").meta["step"] == 2
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]
    monkeypatch.setattr(loop, "save_training_state", real_save)
    assert train(cfg, resume=True).step == 4


def test_clipping_engages_on_exploding_gradients(tiny_config):
    cfg = tiny_config("sound")
    run = setup(cfg, cfg.output_dir)
    batch = collate_sound([run.train_set[0], run.train_set[1]])
    # squared error of 1e6-sized targets, all above the floor
    big = Spectrogram(batch.target.data * -1e6, batch.target.lengths, batch.target.frame_rate)
    batch = SoundBatch(batch.ids, batch.video, big, batch.durations)
    stats = train_step(
        run.system, batch, run.optimizer, run.scheduler, options=LossOptions(kind="mse"), grad_clip=0.5
    )
    assert stats.clipped and stats.grad_norm > 1e3 and not stats.skipped
    clipped = torch.nn.utils.get_total_norm([p.grad for p in run.system.parameters() if p.grad is not None])
    assert float(clipped) <= 0.5 + 1e-4
    assert all(torch.isfinite(p).all() for p in run.system.parameters())


def test_feature_cache_is_hit_from_the_second_epoch(tiny_config):
    frozen = {**tiny_config("sound").system["encoder"], "frozen": True}
    cfg = tiny_config("sound", system={"encoder": frozen}, train={"steps": 6, "val_every": 6})
    result = train(cfg)
    stats = json.loads((result.run_dir / "summary.json").read_text())["feature_cache"]
    assert stats["misses"] == 4 + 2  # each train and val clip encoded once
    assert stats["hits"] >= 2 * 4  # epochs 2 and 3 read every train clip from the cache


def test_feature_cache_tells_frame_strides_apart(tiny_config):
    """A member's frame_stride changes its features, not its weights: the cache keys differ."""
    identities = []
    for stride in (1, 2):
        frozen = {**TINY_ENCODER, "frozen": True, "frame_stride": stride}
        cfg = tiny_config("sound", system={"encoder": frozen})
        identities.append(setup(cfg, cfg.output_dir).cache.identity)
    assert identities[0]["weights"] == identities[1]["weights"]  # the same seed, the same weights
    assert (identities[0]["encoder"], identities[1]["encoder"]) == ("compact", "compact/2")


@pytest.mark.parametrize("kind", ["caption", "sound"])
def test_a_frozen_member_is_encoded_once_per_clip_while_the_other_trains(
    tiny_config, tmp_path, monkeypatch, kind
):
    """A concatenated encoder with one frozen member: that member's features are cached at
    setup and read each step; the training member still runs on frames, kept in memory, and
    sound targets are read from the cache too. The same steps as a run that computes
    everything each time, within float rounding."""
    from avseq.data.datasets import SoundDataset

    members = [TINY_ENCODER, {**TINY_ENCODER, "frozen": True}]
    config = lambda **data: tiny_config(  # noqa: E731
        kind, system={"encoder": members}, data={"in_memory": True, **data},
        train={"steps": 6, "val_every": 3, "bn_batches": 1, "freeze_encoder_at": 4},
    )  # fmt: skip
    runs, decoded, real_target = {}, [], SoundDataset.target
    for cached in (True, False):
        cfg = config(cache_features=cached)
        run = setup(cfg, tmp_path / f"setup-{cached}")
        calls = {"frozen": 0, "training": 0}
        for name, member in zip(("training", "frozen"), run.system.encoder.members, strict=True):
            member.backbone.register_forward_hook(lambda *_, c=calls, n=name: c.__setitem__(n, c[n] + 1))
        if cached:
            monkeypatch.setattr(SoundDataset, "target", lambda ds, i: decoded.append(i) or real_target(ds, i))
        examples = [run.train_set[i] for i in range(len(run.train_set))] * 2
        runs[cached] = (run, calls, examples)
        monkeypatch.undo()
    assert decoded == []  # setup decoded every target once and cached it
    run, calls, examples = runs[True]
    assert calls["frozen"] == 0  # setup cached all 4 train and 2 val clips
    assert {e.video.cached.shape[1] for e in examples} == {TINY_ENCODER["out_dim"]}
    batch = (collate_sound if kind == "sound" else collate_caption)(examples[:2])
    with torch.no_grad():
        run.system.eval()
        from_cache = features_of(run.system, batch)[0]
        computed = run.system.features(batch.video.frames.data, batch.video.lengths)
    assert calls == {"frozen": 1, "training": 2}  # once for the full computation only
    torch.testing.assert_close(from_cache, computed, atol=1e-5, rtol=1e-4)
    assert runs[False][0].cache is None and all(isinstance(e.video, Frames) for e in runs[False][2])
    losses = []
    for cached in (True, False):
        cfg = config(cache_features=cached)
        result = train(cfg, tmp_path / f"run-{cached}")
        losses.append([float(r["loss"]) for r in _rows(result.run_dir) if r["loss"]])
        stats = json.loads((result.run_dir / "summary.json").read_text())["feature_cache"]
        if cached:  # the whole encoder's, cached at the freeze for the 4 train clips, then read
            assert stats["misses"] == 4 and stats["hits"] >= 2 * 2
    assert len(losses[0]) == 6
    assert losses[0] == pytest.approx(losses[1], rel=1e-3)


def test_cli_train_then_eval_side_by_side(tiny_config, tmp_path):
    cfg = tiny_config("sound")
    path = tmp_path / "tiny.yaml"
    from avseq.train.config import config_to_yaml

    path.write_text(config_to_yaml(cfg))
    runner = CliRunner()
    out = runner.invoke(main, ["train", str(path), "--set", "train.steps=2", "-o", str(tmp_path / "cli_run")])
    assert out.exit_code == 0, out.output
    assert '"steps": 2' in out.output
    bad = runner.invoke(main, ["train", str(path), "--set", "optim.lr=0"])
    assert bad.exit_code == 2 and "optim.lr: Input should be greater than 0 (got 0)" in bad.output
    data = cfg.data.root
    report = tmp_path / "rep" / "report.json"
    out = runner.invoke(
        main, ["eval", str(tmp_path / "cli_run" / "last" / "bundle"), "--data", str(data), "--split", "val",
               "-o", str(report), "--quiet"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "retrieval" in out.output and "onset_f1_frame" in out.output
    systems = json.loads(report.read_text())["systems"]
    # the ceiling row is the clip's own log-mel: closer to it than anything predicted
    assert systems["reference"]["mel_l1"] < min(systems[s]["mel_l1"] for s in ("model", "mean_mel"))
    assert sorted(p.suffix for p in (tmp_path / "rep" / "report_clips").iterdir()) == [
        ".jsonl",
        ".wav",
        ".wav",
    ]


def test_memory_cache_decodes_each_clip_once(tiny_config, monkeypatch):
    from avseq.data.datasets import SoundDataset

    cfg = tiny_config("sound", data={"in_memory": True})
    run = setup(cfg, cfg.output_dir)
    calls = []
    real = SoundDataset.load_video
    monkeypatch.setattr(SoundDataset, "load_video", lambda self, i: calls.append(i) or real(self, i))
    first = [run.train_set[i] for i in range(len(run.train_set))]
    again = [run.train_set[i] for i in range(len(run.train_set))]
    assert sorted(calls) == list(range(len(run.train_set)))
    for a, b in zip(first, again, strict=True):
        assert torch.equal(a.video.data, b.video.data) and torch.equal(a.target, b.target)
    fresh = SoundDataset(run.train_set.entries, run.prep)[0]
    assert (fresh.video.data - first[0].video.data).abs().max() <= 1 / 255


def test_eval_reads_the_training_clips_features_a_frozen_run_cached(tiny_config, tmp_path):
    from avseq.evaluation import evaluate_bundle

    frozen = {**TINY_ENCODER, "frozen": True}
    data = tmp_path / "data"
    cfg = tiny_config("caption", system={"encoder": frozen}, train={"steps": 2}, data={"root": str(data)})
    bundle = train(cfg).run_dir / "last" / "bundle"
    assert any((data / "feature_cache").rglob("*.safetensors"))  # the run stored its clips' features

    def rows(report):
        return [json.loads(line) for line in open(Path(report["per_clip"]) / "captions.jsonl")]

    cached = evaluate_bundle(
        bundle, data, tmp_path / "a.json", split="val", feature_cache="auto", progress=False
    )
    assert cached["feature_cache"] == {"folder": str(data / "feature_cache"), "hits": 4, "misses": 0}
    assert any("4 read from" in note for note in cached["notes"])
    (tmp_path / "taken").write_text("a file, not a folder")
    plain = evaluate_bundle(  # the cache cannot be made there: the same evaluation without it
        bundle, data, tmp_path / "b.json", split="val", feature_cache=tmp_path / "taken", progress=False
    )
    assert any("no feature cache: cannot use" in note for note in plain["notes"])
    assert "feature_cache" not in plain and rows(plain) == rows(cached)
    assert plain["systems"]["nearest_neighbour"] == cached["systems"]["nearest_neighbour"]


def test_eval_finds_the_feature_cache_of_a_run_on_manifests_kept_elsewhere(
    tiny_config, tiny_data_root, tmp_path
):
    """A run on a user's manifests keeps its cache in its own folder (RUN/data), not beside them;
    the bundle records where, so `avseq eval` against those manifests reads it."""
    from avseq.evaluation import evaluate_bundle
    from avseq.train.data import split_manifests

    frozen = {**TINY_ENCODER, "frozen": True}
    data = tiny_data_root  # the shared tiny splits, made here if no test has made them yet
    split_manifests(tiny_config("sound"), tmp_path / "unused", progress=False)
    manifests = {"train": str(data / "train.jsonl"), "val": str(data / "val.jsonl")}
    cfg = tiny_config(  # sound: its evaluation needs no METEOR (Java) start-up
        "sound", system={"encoder": frozen}, train={"steps": 2},
        data={"root": None, "splits": {}, "synth": None, "manifests": manifests},
    )  # fmt: skip
    run_dir = train(cfg).run_dir
    bundle, out = run_dir / "last" / "bundle", tmp_path / "a.json"
    report = evaluate_bundle(bundle, data, out, split="val", feature_cache="auto", progress=False)
    folder = str((run_dir / "data" / "feature_cache").resolve())
    assert report["feature_cache"] == {"folder": folder, "hits": 4, "misses": 0}


@pytest.mark.parametrize("kind", ["caption", "sound"])
def test_baselines_retrieve_by_another_bundles_encoder_when_told(tiny_config, tmp_path, monkeypatch, kind):
    from avseq.evaluation import evaluate_bundle
    from avseq.evaluation import inputs as eval_data
    from avseq.evaluation.inputs import nearest, retrieval_keys, split_entries

    other = "sound" if kind == "caption" else "caption"
    evaluated = train(tiny_config(kind, train={"steps": 2}), tmp_path / "a").run_dir / "last" / "bundle"
    encoder = train(tiny_config(other, train={"steps": 2}), tmp_path / "b").run_dir / "last" / "bundle"
    data = tiny_config(kind).data.root
    seen = []  # (system, clip id) of every clip encoded
    real = eval_data.clip_features
    monkeypatch.setattr(
        eval_data,
        "clip_features",
        lambda system, e, *a: seen.append((type(system), e.id)) or real(system, e, *a),
    )
    report = evaluate_bundle(
        evaluated, data, tmp_path / "rep.json", split="val", baseline_encoder=str(encoder), progress=False
    )
    assert report["baseline_encoder"] == {"bundle": str(encoder), "version": load(encoder).version}
    assert any("retrieve by" in note for note in report["notes"])
    by = load(encoder)
    test, train_clips = split_entries(data / "val.jsonl", "val"), split_entries(data / "train.jsonl", "train")
    # every training clip is encoded by the baseline encoder alone; its neighbours are that encoder's
    assert {e.id for e in train_clips} == {i for s, i in seen if s is type(by.system)} - {e.id for e in test}
    assert not {i for s, i in seen if s is not type(by.system)} & {e.id for e in train_clips}
    expected = nearest(
        retrieval_keys(by, test, torch.device("cpu")), retrieval_keys(by, train_clips, torch.device("cpu"))
    )
    rows = [
        json.loads(line)
        for line in (tmp_path / "rep_clips" / f"{'captions' if kind == 'caption' else 'clips'}.jsonl").open()
    ]
    if kind == "caption":
        assert [r["nearest_neighbour"] for r in rows] == [train_clips[j].captions[0] for j in expected]
    else:
        assert [r["retrieved"] for r in rows] == [train_clips[j].id for j in expected]
    with pytest.raises(BundleError, match="No bundle .no-such-bundle."):
        evaluate_bundle(evaluated, data, tmp_path / "r2.json", split="val", baseline_encoder="no-such-bundle")


def test_caption_eval_decodes_as_the_run_did_unless_told(tiny_config, tmp_path, monkeypatch):
    from avseq.models.systems import CaptionSystem

    seen = []
    real = CaptionSystem.generate_from_features
    monkeypatch.setattr(
        CaptionSystem,
        "generate_from_features",
        lambda self, *a, **k: seen.append((k["beam_size"], k["rerank"])) or real(self, *a, **k),
    )
    result = train(tiny_config("caption", train={"beam_size": 2, "rerank": "consensus"}))
    assert set(seen) == {(2, "consensus")}  # validation
    bundle = str(result.run_dir / "best" / "bundle")
    data = str(tiny_config("caption").data.root)
    for extra, expected in [
        ([], (2, "consensus")),
        (["--rerank", "score", "--beam-size", "3"], (3, "score")),
    ]:
        seen.clear()
        report = tmp_path / f"rep{len(extra)}.json"
        out = CliRunner().invoke(
            main, ["eval", bundle, "--data", data, "--split", "val", "-o", str(report), "--quiet", *extra]
        )
        assert out.exit_code == 0, out.output
        assert set(seen) == {expected}
        assert (
            json.loads(report.read_text())["beam_size"],
            json.loads(report.read_text())["rerank"],
        ) == expected


def test_phases_freeze_the_encoder_then_train_self_critically_and_resume_exactly(
    tiny_config, tmp_path, monkeypatch
):
    config = lambda: tiny_config(  # noqa: E731
        "caption",
        train={"steps": 6, "bn_batches": 1, "freeze_encoder_at": 2, "captions_per_clip_frozen": 2},
        loss={"self_critical_from": 4, "self_critical_samples": 3},
    )
    start = setup(config(), tmp_path / "start").system.state_dict()
    per_clip = []

    def spy(system, batch, *args, **kwargs):
        per_clip.append(len(batch.rows) / len(batch.ids))
        return train_step(system, batch, *args, **kwargs)

    monkeypatch.setattr(loop, "train_step", spy)
    straight = train(config(), tmp_path / "straight")
    assert per_clip == [1, 1, 2, 2, 2, 2]  # two captions per clip once the encoder is frozen
    stopped = train(config(), tmp_path / "resumed", stop_at=3)  # between the freeze and the switch
    at_3 = load(stopped.run_dir / "last" / "bundle").system.state_dict()
    final = load(straight.run_dir / "last" / "bundle").system.state_dict()
    encoder = [k for k in final if k.startswith("encoder.")]
    assert encoder and any(not torch.equal(start[k], at_3[k]) for k in encoder)  # it learned before step 2
    assert all(torch.equal(at_3[k], final[k]) for k in encoder)  # and not after
    assert any(not torch.equal(at_3[k], final[k]) for k in final if k.startswith("model."))
    rows = _rows(straight.run_dir)
    assert float(rows[-1]["val_loss"]) > 0  # validation reports cross-entropy after the switch too
    summary = json.loads((straight.run_dir / "summary.json").read_text())
    cache = summary["feature_cache"]
    assert cache["misses"] == 4 and cache["hits"] >= 4  # each train clip encoded once, then read
    resumed = train(config(), stopped.run_dir, resume=True)
    a, b = _weights(straight.run_dir), _weights(resumed.run_dir)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [r["loss"] for r in rows] == [r["loss"] for r in _rows(resumed.run_dir)]
    with pytest.raises(ConfigError, match="self_critical_from trains captions"):
        tiny_config("sound", loss={"self_critical_from": 2})
    with pytest.raises(ConfigError, match="freeze_encoder_at is 6 but the run has only train.steps=6"):
        tiny_config("caption", train={"steps": 6, "freeze_encoder_at": 6})
    with pytest.raises(ConfigError, match="captions_per_clip_frozen trains captions"):
        tiny_config("sound", train={"captions_per_clip_frozen": 2})
