"""What ``avseq data`` shares across sources: hash splits, the checks on each file (on the real
clips of ../shared/media too), the manifest fields it adds, the training configs that read its
manifests, and a start-up that never imports torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from avseq.data.manifest import ManifestEntry, entry_from_json, read_manifest, write_manifest
from avseq.data.sources.probing import Checks, Facts, inspect_clip
from avseq.data.sources.splits import carve_val, check_fraction, hash_split, parse_fractions
from avseq.errors import ConfigError
from tests.data.source_helpers import make_clip, report, run_data, split_ids

REPO = Path(__file__).resolve().parents[2]
MEDIA = REPO.parent / "shared" / "media"


def test_hash_splits_follow_the_fractions_and_never_change():
    keys = [f"clip{i:04d}.mp4" for i in range(4000)]
    splits = [hash_split(k, (0.8, 0.1, 0.1)) for k in keys]
    assert [hash_split(k, (0.8, 0.1, 0.1)) for k in keys] == splits
    assert abs(splits.count("train") / 4000 - 0.8) < 0.03 and abs(splits.count("test") / 4000 - 0.1) < 0.02
    assert [hash_split(f"clip{i:04d}.mp4") for i in range(4)] == ["val", "train", "train", "test"]  # forever
    assert {hash_split(k, (1.0, 0.0, 0.0)) for k in keys} == {"train"}
    val = [carve_val(k, 0.05) for k in keys]
    assert abs(val.count("val") / 4000 - 0.05) < 0.015 and carve_val("x", 0.0) == "train"


@pytest.mark.parametrize("text", ["0.8,0.1", "0.8,0.1,0.2", "a,b,c", "1.2,-0.1,-0.1", "nan,0,0"])
def test_parse_fractions_names_the_bad_value(text):
    with pytest.raises(ConfigError, match=rf"Invalid split '{text}': give three fractions train,val,test"):
        parse_fractions(text)
    assert parse_fractions("0.7, 0.2, 0.1") == (0.7, 0.2, 0.1)


def test_check_fraction():
    assert check_fraction(0.0) == 0.0
    with pytest.raises(ConfigError, match="Invalid val fraction 1.0: must be >= 0 and < 1"):
        check_fraction(1.0)


def test_inspect_clip_reasons(tmp_path):
    sound, captions = Checks(sound=True), Checks(sound=False, min_duration=0.25)
    tone = make_clip(tmp_path / "tone.mp4")
    facts = inspect_clip(tone, sound)
    assert isinstance(facts, Facts) and facts.peak_db == pytest.approx(-6.0, abs=1.0)
    mute = make_clip(tmp_path / "mute.mp4", audio=None, seconds=0.5)
    assert inspect_clip(mute, sound).reason == "too_short"
    assert inspect_clip(mute, Checks(sound=True, min_duration=0.5)).reason == "no_audio"
    assert inspect_clip(mute, captions) == Facts(0.5, 8.0, mute.stat().st_size, False, None)
    assert inspect_clip(tmp_path / "absent.mp4", sound).reason == "missing"
    quiet = make_clip(tmp_path / "quiet.mp4", audio="silent")
    problem = inspect_clip(quiet, sound)
    assert problem.reason == "silent" and "digital silence, below -60 dBFS" in problem.message
    assert isinstance(inspect_clip(quiet, captions), Facts)  # captions do not need the sound


def test_manifest_lines_carry_size_and_has_audio(tmp_path):
    entry = ManifestEntry(path=tmp_path / "a.mp4", id="a", duration=1.5, size_bytes=1234, has_audio=False)
    write_manifest(tmp_path / "m.jsonl", [entry])
    line = json.loads((tmp_path / "m.jsonl").read_text())
    assert line["size_bytes"] == 1234 and line["has_audio"] is False
    (back,) = read_manifest(tmp_path / "m.jsonl")
    assert back.size_bytes == 1234 and back.has_audio is False
    with pytest.raises(ConfigError, match="'has_audio' must be true or false, got 'yes'"):
        entry_from_json({"path": "a.mp4", "has_audio": "yes"}, tmp_path)


@pytest.mark.skipif(not MEDIA.is_dir(), reason="../shared/media is absent")
def test_real_clips_as_a_folder_source(tmp_path):
    """The real clips (and the broken ones of bad/) linked into a folder: each bad one is
    reported with its reason, the good ones keep the facts the media README lists."""
    root = tmp_path / "footage"
    root.mkdir()
    files = [p for p in sorted(MEDIA.iterdir()) if p.is_file() and p.suffix != ".md"]
    files += sorted((MEDIA / "bad").iterdir()) if (MEDIA / "bad").is_dir() else []
    for path in files:
        (root / path.name).symlink_to(path)
    code, stdout, err = run_data("folder", str(root), "-o", str(tmp_path / "m"), "--split", "0.6,0.2,0.2")
    assert code == 0, err
    expected = {
        "mmaction2__tests_data_test.mp4": "no_audio",
        "torchcodec__test_resources_var_fps_video": "no_audio",
        "moviepy__media_no_duration": "silent",
        "zero_bytes": "unreadable",
        "html_error_page": "unreadable",
        "trunc30__video_features__sample_v_GGSY1Qvo990": "truncated",
        "audio_only__vas_dog_video_02754": "no_video",
    }
    present = {p.name.rsplit(".", 1)[0] for p in files} | {p.name for p in files}
    assert report(tmp_path / "m") == {k: v for k, v in expected.items() if k in present}
    kept = {e.id: e for s in ("train", "val", "test") for e in read_manifest(tmp_path / "m" / f"{s}.jsonl")}
    facts = {  # duration, fps, audio sample rate: ../shared/media/README.md
        "SpecVQGAN__data_vas_videos_drum_video_02480": (10.04, 25.0, 22050),
        "CondFoleyGen__data_demo_video_hitting_metal": (6.0, 15.0, 44100),
        "mmaction2__tests_data_test.avi": (6.56, 25.0, 44100),
        "torchcodec__test_resources_nasa_13013": (13.0, 25.0, 8000),
    }
    for cid, (duration, fps, rate) in facts.items():
        if cid in kept:
            e = kept[cid]
            assert (round(e.duration, 2), e.fps, e.sample_rate, e.has_audio) == (duration, fps, rate, True)
            assert e.size_bytes == e.path.stat().st_size
    lines = [
        json.loads(line) for s in ("train", "val", "test") for line in (tmp_path / "m" / f"{s}.jsonl").open()
    ]
    # the links as given, relative to the manifests, not the files they point to
    assert lines and all(line["path"] == f"../footage/{Path(line['path']).name}" for line in lines)
    assert sum(len(ids) for ids in split_ids(tmp_path / "m").values()) == len(kept)
    assert stdout.startswith(f"folder: {len(kept)} clips")


@pytest.mark.parametrize(
    "config, source",
    [("caption_msvd.yaml", "msvd"), ("caption_msrvtt.yaml", "msrvtt"), ("sound_vggsound.yaml", "vggsound")],
)
def test_the_configs_read_what_avseq_data_writes(config, source, tmp_path, monkeypatch):
    """Each real-data config names the manifests `avseq data SOURCE ROOT -o data/<name>` writes,
    run in the folder one trains from (a shipped config's data paths are relative to the working
    directory), and its comment gives that command."""
    from avseq.train.config import load_config
    from avseq.train.data import load_entries

    monkeypatch.chdir(tmp_path)
    cfg = load_config(REPO / "configs" / config)
    text = (REPO / "configs" / config).read_text()
    command = next(line for line in text.splitlines() if f"avseq data {source} " in line)
    out = command.split(" -o ")[1].split()[0]
    assert {k: p.resolve() for k, p in cfg.data.manifests.items()} == {
        s: (tmp_path / out / f"{s}.jsonl").resolve() for s in ("train", "val", "test")
    }
    assert cfg.data.train_split == "train" and cfg.data.val_split == "val"
    make_clip(tmp_path / "clips/a.mp4")
    code, _, err = run_data("folder", str(tmp_path / "clips"), "-o", str(tmp_path / "m"), "--split", "1,0,0")
    assert code == 0, err
    (entry,) = load_entries(tmp_path / "m" / "train.jsonl", cfg.data.train_split)
    assert entry.id == "a" and entry.duration == pytest.approx(1.5)


def test_avseq_data_never_imports_torch(tmp_path):
    make_clip(tmp_path / "clips/a.mp4")
    make_clip(tmp_path / "clips/b.mp4", seed=1)
    code = textwrap.dedent(
        f"""
        import sys
        from avseq.cli import main
        try:
            main(["data", "folder", {str(tmp_path / "clips")!r}, "-o", {str(tmp_path / "m")!r},
                  "--workers", "2"])
        except SystemExit as done:
            assert done.code in (0, None), done.code
        loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
        assert not loaded, loaded[:5]
        print("ok")
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr
