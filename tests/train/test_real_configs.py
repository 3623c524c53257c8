"""Each real-data config trains end to end on CPU: a dataset laid out as it is downloaded ->
``avseq data`` -> ``avseq train configs/<config>.yaml`` (``--set`` to tiny sizes, with a
torchvision encoder read from a local weights file) -> ``avseq run`` a pipeline with the bundle.

Over generated clips in each dataset's layout (always run), and over the real clips of
``../shared/media`` laid out as a folder by symlinks (skipped when absent). The encoder's
``weights: DEFAULT`` is read from the torch hub cache, never downloaded: with an empty cache the
run stops with an error naming the file it expected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from avseq.bundles import load
from avseq.cli import main
from avseq.models.weights import torchvision_cache_path
from tests.data.source_helpers import (
    greatest_hits_layout,
    make_clip,
    msrvtt_layout,
    msvd_layout,
    run_data,
    vas_layout,
    vggsound_layout,
)

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
PIPELINES = REPO / "pipelines"
MEDIA = REPO.parent / "shared" / "media"
TINY_ENCODER = "mobilenet_v3_small"  # the smallest torchvision backbone avseq registers

TINY_TRAIN = [
    "train.steps=2", "train.batch_size=2", "train.val_every=2", "train.log_every=1", "train.device=cpu",
    "train.bf16=false", "train.num_workers=0", "train.threads=1", "train.progress=false",
    "optim.warmup_steps=1", "data.val_clips=2",
]  # fmt: skip
TINY = {
    "sound": [
        "preprocessing.fps=4", "preprocessing.frame_size=[32, 32]",
        "system.model.hidden_size=8", "system.model.num_layers=1",
    ],
    "caption": [
        "preprocessing.num_frames=4", "preprocessing.frame_size=[32, 32]",
        "system.model.hidden_size=8", "system.model.embed_dim=8", "loss.min_word_count=1",
        "train.beam_size=2", "train.max_caption_len=6",
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory) -> Path:
    """A torchvision backbone's state dict as torchvision saves it (classifier included), as a
    downloaded ImageNet checkpoint would be; random weights, since the tests never download."""
    from torchvision.models import get_model

    path = tmp_path_factory.mktemp("weights") / f"{TINY_ENCODER}.pth"
    torch.manual_seed(0)
    torch.save(get_model(TINY_ENCODER, weights=None).state_dict(), path)
    return path


def avseq(*args: str) -> tuple[int, str]:
    """``avseq ARGS`` in process: (exit code, stdout + stderr)."""
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def train_tiny(config: str, kind: str, run: Path, weights: Path, *overrides: str) -> Path:
    """``avseq train configs/<config>`` at tiny sizes into ``run``; the best bundle's folder."""
    sets = [
        *TINY_TRAIN, *TINY[kind], f"data.root={run / 'data'}",
        f"system.encoder.name={TINY_ENCODER}", f"system.encoder.weights={weights}", *overrides,
    ]  # fmt: skip
    code, output = avseq(
        "train", str(CONFIGS / config), "-o", str(run), *(a for s in sets for a in ("--set", s))
    )
    assert code == 0, output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 2
    bundle = run / "best" / "bundle"
    loaded = load(bundle)
    assert loaded.kind == kind and loaded.meta["train_config"]["system"]["encoder"]["name"] == TINY_ENCODER
    return bundle


def run_bundle(kind: str, bundle: Path, clip: Path, out: Path) -> dict:
    """``avseq run pipelines/<kind>.yaml`` on ``clip`` with ``bundle``; the clip's results line."""
    stage = "sound" if kind == "sound" else "caption"
    sets = [f"stages.{stage}.params.bundle={bundle}"]
    sets += ["stages.vocoder.params.n_iter=2"] if kind == "sound" else ["stages.caption.params.beam_size=2"]
    code, output = avseq(
        "run", str(PIPELINES / f"{stage}.yaml"), "-i", str(clip), "-o", str(out), "--device", "cpu",
        "--workers", "1", *(a for s in sets for a in ("--set", s)),
    )  # fmt: skip
    assert code == 0, output
    (line,) = (out / "results.jsonl").read_text().splitlines()
    result = json.loads(line)
    assert result["status"] == "ok", result
    return result


def make_manifests(source: str, root: Path, out: Path, *options: str) -> Path:
    code, _, err = run_data(source, str(root), "-o", str(out), *options)
    assert code == 0, err
    return out


# config, kind, source, layout, `avseq data` options, extra --set (the tiny layouts hold one or two
# clips per split, and VGGSound, VAS and Greatest Hits publish no validation split)
NO_VAL = (("--val-fraction", "0"), ("data.val_split=test",))
CASES = [
    ("caption_msvd.yaml", "caption", "msvd", msvd_layout, (), ()),
    ("caption_msrvtt.yaml", "caption", "msrvtt", msrvtt_layout, (), ()),
    ("sound_vggsound.yaml", "sound", "vggsound", vggsound_layout, *NO_VAL),
    ("sound_vas.yaml", "sound", "vas", vas_layout, *NO_VAL),
    ("sound_greatest_hits.yaml", "sound", "greatest-hits", greatest_hits_layout, *NO_VAL),
]  # fmt: skip


@pytest.mark.parametrize("config, kind, source, layout, options, overrides", CASES, ids=[c[0] for c in CASES])
def test_real_data_config_trains_from_avseq_data_manifests_and_runs_in_a_pipeline(
    config, kind, source, layout, options, overrides, weights_file, tmp_path
):
    root = layout(tmp_path / "dataset")
    out = make_manifests(source, root, tmp_path / "manifests", *options)
    manifests = [f"data.manifests.{s}={out / f'{s}.jsonl'}" for s in ("train", "val", "test")]
    bundle = train_tiny(config, kind, tmp_path / "run", weights_file, *manifests, *overrides)
    clip = json.loads((out / "train.jsonl").read_text().splitlines()[0])["path"]
    result = run_bundle(kind, bundle, out / clip, tmp_path / "out")  # manifest paths: relative to it
    assert result["outputs"], result


def folder_of_clips(root: Path, n: int = 8) -> Path:
    """``n`` clips with sound in nested folders, and a silent and a broken one mixed in."""
    for i in range(n):
        make_clip(root / f"day{i % 2}" / f"take{i}.mp4", seed=i, seconds=1.5)
    make_clip(root / "quiet.mp4", audio="silent", seed=99)
    (root / "broken.mp4").write_text("not a video\n")
    return root


def test_sound_folder_learns_from_a_folder_in_one_command(weights_file, tmp_path):
    footage = folder_of_clips(tmp_path / "footage")
    run = tmp_path / "run"
    bundle = train_tiny(
        "sound_folder.yaml", "sound", run, weights_file, f"data.folder={footage}",
        "data.folder_split=[0.5, 0.5, 0.0]",
    )  # fmt: skip
    manifests = run / "data"
    reasons = {
        r["id"]: r["reason"] for r in map(json.loads, (manifests / "report.jsonl").read_text().splitlines())
    }
    assert reasons == {"quiet": "silent", "broken": "unreadable"}
    ids = {
        s: [json.loads(x)["id"] for x in (manifests / f"{s}.jsonl").read_text().splitlines()]
        for s in ("train", "val")
    }
    assert sorted(ids["train"] + ids["val"]) == sorted(f"day{i % 2}/take{i}" for i in range(8))
    assert ids["train"] and ids["val"]
    run_bundle("sound", bundle, footage / "day0" / "take0.mp4", tmp_path / "out")


def test_sound_folder_without_a_folder_says_how_to_give_one(tmp_path):
    code, output = avseq("train", str(CONFIGS / "sound_folder.yaml"), "-o", str(tmp_path / "run"))
    assert code == 2 and "--set data.folder=DIR" in output
    code, output = avseq(
        "train", str(CONFIGS / "sound_folder.yaml"), "--set", f"data.folder={tmp_path}", "--set",
        "data.folder_split=[0.8, 0.3, 0.0]",
    )  # fmt: skip
    assert code == 2 and "data.folder_split" in output and "sum to 1" in output
    code, output = avseq(
        "train", str(CONFIGS / "sound_folder.yaml"), "--set", f"data.folder={tmp_path}", "--set",
        "data.manifests.train=train.jsonl",
    )  # fmt: skip
    assert code == 2 and "data.folder writes its own manifests" in output


def test_default_weights_absent_from_an_empty_torch_hub_cache_are_named_not_downloaded(tmp_path, monkeypatch):
    def download(url, *args, **kwargs):
        raise AssertionError(f"tried to download {url}")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    out = make_manifests("msvd", msvd_layout(tmp_path / "MSVD"), tmp_path / "manifests")
    sets = [*TINY_TRAIN, *TINY["caption"], f"data.root={tmp_path / 'cache'}"]
    sets += [f"data.manifests.{s}={out / f'{s}.jsonl'}" for s in ("train", "val", "test")]
    code, output = avseq(
        "train", str(CONFIGS / "caption_msvd.yaml"), "-o", str(tmp_path / "run"),
        *(a for s in sets for a in ("--set", s)),
    )  # fmt: skip
    expected = tmp_path / "torch" / "hub" / "checkpoints" / "resnet50-11ad3fa6.pth"
    assert torchvision_cache_path("resnet50", "DEFAULT") == expected
    assert code == 2 and f"not in the torch hub cache: expected {expected}" in output, output
    assert "download.pytorch.org/models/resnet50-11ad3fa6.pth" in output


REAL = ["mmaction2__tests_data_test.avi", "SpecVQGAN__data_vas_videos_drum_video_02480.mp4",
        "CondFoleyGen__data_demo_video_hitting_metal.mp4", "torchcodec__test_resources_nasa_13013.mp4",
        "moviepy__media_no_duration.webm", "mmaction2__tests_data_test.mp4"]  # fmt: skip


@pytest.mark.skipif(not MEDIA.is_dir(), reason="../shared/media is absent")
def test_sound_folder_trains_on_real_clips_linked_into_a_folder(weights_file, tmp_path):
    footage = tmp_path / "footage"
    footage.mkdir()
    for name in REAL:  # linked, never copied into the project
        (footage / name).symlink_to(MEDIA / name)
    run = tmp_path / "run"
    bundle = train_tiny(
        "sound_folder.yaml", "sound", run, weights_file, f"data.folder={footage}", "data.val_split=train"
    )
    report = (run / "data" / "report.jsonl").read_text()
    reasons = {r["id"]: r["reason"] for r in map(json.loads, report.splitlines())}
    # no audio, digital silence: left out and said why
    assert reasons == {"mmaction2__tests_data_test.mp4": "no_audio", "moviepy__media_no_duration": "silent"}
    manifests = run / "data"  # beside the feature cache, where avseq eval --data looks for it
    assert (manifests / "feature_cache").is_dir()
    kept = [
        json.loads(x)["path"]
        for s in ("train", "val", "test")
        for x in (manifests / f"{s}.jsonl").read_text().splitlines()
    ]
    assert len(kept) == 4 and all(
        (manifests / path).is_symlink() for path in kept
    )  # paths relative to the manifest
    # sound for the silent pool-cleaning clip from the model trained on the others
    result = run_bundle("sound", bundle, MEDIA / "mmaction2__tests_data_test.mp4", tmp_path / "out")
    assert result["outputs"], result
