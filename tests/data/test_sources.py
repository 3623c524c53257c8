"""``avseq data SOURCE``: each dataset's layout and annotation files (tiny, generated), with
missing, broken, silent and too-short clips mixed in. The manifests hold exactly the good
clips; the report names each bad one with its reason; read_manifest reads the result."""

from __future__ import annotations

import json

import pytest

from avseq.data.manifest import read_manifest
from avseq.data.sources.splits import carve_val, hash_split
from tests.data.source_helpers import (
    greatest_hits_layout,
    make_clip,
    make_corrupt,
    msrvtt_layout,
    msvd_layout,
    report,
    run_data,
    split_ids,
    vas_layout,
    vggsound_layout,
)


def test_folder_keeps_the_clips_with_sound_and_reports_the_rest(tmp_path):
    root = tmp_path / "footage"
    good = {
        "trip/day1/beach": make_clip(root / "trip/day1/beach.mp4", seed=1),
        "trip/day2/drums": make_clip(root / "trip/day2/drums.mkv", seed=2, seconds=2.0),
        "street": make_clip(root / "street.avi", seed=3),
        "kitchen": make_clip(root / "kitchen.mp4", seed=4),
    }
    make_clip(root / "quiet.mp4", audio="silent", seed=5)
    make_clip(root / "mute.mp4", audio=None, seed=6)
    make_clip(root / "blink.mp4", seconds=0.5, seed=7)
    make_corrupt(root / "trip/broken.mp4")
    code, out, err = run_data("folder", str(root), "-o", str(tmp_path / "m"), "--split", "0.5,0.25,0.25")
    assert code == 0, err
    assert report(tmp_path / "m") == {
        "quiet": "silent",
        "mute": "no_audio",
        "blink": "too_short",
        "trip/broken": "unreadable",
    }
    assert "4 clips left out (" in err and str(tmp_path / "m" / "report.jsonl") in err
    assert all(f"1 {reason}" in err for reason in ("silent", "no_audio", "too_short", "unreadable"))
    entries = {
        e.id: e for s in ("train", "val", "test") for e in read_manifest(tmp_path / "m" / f"{s}.jsonl")
    }
    assert set(entries) == set(good)
    for cid, path in good.items():
        e = entries[cid]
        rel = path.relative_to(root).as_posix()
        assert e.path == path.resolve() and e.split == hash_split(rel, (0.5, 0.25, 0.25))
        assert e.fps == 8.0 and e.has_audio and e.sample_rate == 16000 and e.size_bytes == path.stat().st_size
    assert entries["trip/day2/drums"].duration == pytest.approx(2.0, abs=0.01)
    counts = {s: len(ids) for s, ids in split_ids(tmp_path / "m").items()}
    assert out.strip() == (
        f"folder: 4 clips (train {counts['train']}, val {counts['val']}, test {counts['test']}) "
        f"in {tmp_path / 'm'}/{{train,val,test}}.jsonl"
    )
    summary = json.loads((tmp_path / "m" / "summary.json").read_text())
    assert summary["clips"] == counts and summary["left_out"]["silent"] == 1 and summary["checks"]["sound"]


def test_folder_splits_stay_put_when_files_are_added_and_on_a_rerun(tmp_path):
    root = tmp_path / "footage"
    for i in range(6):
        make_clip(root / f"c{i}.mp4", seed=i, seconds=1.0)
    run_data("folder", str(root), "-o", str(tmp_path / "a"))
    before = split_ids(tmp_path / "a")
    make_clip(root / "new.mp4", seed=9, seconds=1.0)
    run_data("folder", str(root), "-o", str(tmp_path / "a"))
    after = split_ids(tmp_path / "a")
    for split, ids in before.items():
        assert [i for i in after[split] if i != "new"] == ids


def test_folder_ids_keep_the_suffix_when_two_files_share_a_stem(tmp_path):
    root = tmp_path / "footage"
    make_clip(root / "take.mp4", seed=1)
    make_clip(root / "take.mkv", seed=2)
    code, _, err = run_data("folder", str(root), "-o", str(tmp_path / "m"), "--split", "1,0,0")
    assert code == 0, err
    assert split_ids(tmp_path / "m")["train"] == ["take.mkv", "take.mp4"]


@pytest.fixture
def msvd_root(tmp_path):
    return msvd_layout(tmp_path / "MSVD")


def test_msvd_standard_splits_captions_and_report(msvd_root, tmp_path):
    out = tmp_path / "m"
    code, stdout, err = run_data("msvd", str(msvd_root), "-o", str(out))
    assert code == 0, err
    assert split_ids(out) == {"train": ["-4wsuPCjDBc_5_15"], "val": ["ab_0_9"], "test": ["zz_1_2"]}
    assert report(out) == {"gone_1_2": "missing", "bad_3_4": "unreadable"}
    (first,) = read_manifest(out / "train.jsonl")
    assert first.captions == ("a squirrel is eating a peanut", "A chipmunk eats.")
    assert first.has_audio is False and first.duration == pytest.approx(1.5)  # captions need no audio
    (test,) = read_manifest(out / "test.jsonl")
    assert test.path.name == "vid1500.avi"
    missing = json.loads((out / "report.jsonl").read_text().splitlines()[0])
    assert missing["path"] is None and "gone_1_2" in missing["message"]
    assert stdout.startswith("msvd: 3 clips (train 1, val 1, test 1)")


def test_msvd_without_mapping_splits_by_hash_and_says_so(msvd_root, tmp_path):
    (msvd_root / "youtube_mapping.txt").unlink()
    code, _, err = run_data("msvd", str(msvd_root), "-o", str(tmp_path / "m"), "--split", "0.6,0.2,0.2")
    assert code == 0, err
    assert "no youtube_mapping.txt" in err and "hash" in err
    ids = split_ids(tmp_path / "m")
    for split, names in ids.items():
        assert all(hash_split(n, (0.6, 0.2, 0.2)) == split for n in names)
    assert report(tmp_path / "m") == {"gone_1_2": "missing", "zz_1_2": "missing", "bad_3_4": "unreadable"}


def test_msrvtt_two_annotation_files_and_folders(tmp_path):
    root = msrvtt_layout(tmp_path / "MSRVTT")
    code, _, err = run_data("msrvtt", str(root), "-o", str(tmp_path / "m"))
    assert code == 0, err
    assert split_ids(tmp_path / "m") == {"train": ["video0"], "val": ["video1"], "test": ["video4"]}
    assert report(tmp_path / "m") == {"video3": "no_captions", "video5": "missing", "video2": "too_short"}
    (train,) = read_manifest(tmp_path / "m" / "train.jsonl")
    assert train.captions == ("a man is cooking", "someone cooks food") and train.attributes == {
        "category": 9
    }


@pytest.fixture
def vggsound_root(tmp_path):
    return vggsound_layout(tmp_path / "vggsound")


def test_vggsound_csv_name_format_test_split_and_held_out_val(vggsound_root, tmp_path):
    out = tmp_path / "m"
    code, _, err = run_data("vggsound", str(vggsound_root), "-o", str(out), "--val-fraction", "0.5")
    assert code == 0, err
    assert report(out) == {"quiet000000_000005": "silent", "notfetched0_000007": "missing"}
    ids = split_ids(out)
    assert ids["test"] == ["---g-f_I2yQ_000001"]
    train_ids = ["abcdefghijk_000030", "lmnopqrstuv_000000", "wxyz0123456_000012"]
    assert {s: ids[s] for s in ("train", "val")} == {
        s: [i for i in train_ids if carve_val(i, 0.5) == s] for s in ("train", "val")
    }
    entries = {e.id: e for s in ("train", "val") for e in read_manifest(out / f"{s}.jsonl")}
    assert entries["abcdefghijk_000030"].attributes == {
        "label": "cattle, bovinae cowbell",
        "youtube_id": "abcdefghijk",
        "start": 30,
    }


def test_vggsound_other_name_formats(vggsound_root, tmp_path):
    for f in (vggsound_root / "video").iterdir():
        ytid, start = f.stem.rsplit("_", 1)
        f.rename(f.with_name(f"{ytid}_{int(start) * 1000}_{(int(start) + 10) * 1000}.mp4"))
    code, _, err = run_data(
        "vggsound",
        str(vggsound_root),
        "-o",
        str(tmp_path / "m"),
        "--name-format",
        "{ytid}_{start_ms}_{end_ms}",
    )
    assert code == 0, err
    assert split_ids(tmp_path / "m")["test"] == ["---g-f_I2yQ_1000_11000"]
    code, _, err = run_data(
        "vggsound", str(vggsound_root), "-o", str(tmp_path / "m"), "--name-format", "{id}"
    )
    assert code == 2 and "Invalid name format '{id}'" in err and "ytid, start, end" in err


@pytest.fixture
def vas_data(tmp_path):
    """SpecVQGAN's data/: vas/videos/<class>/ and the two split lists beside vas/."""
    vas_layout(tmp_path / "data")
    return tmp_path / "data"


def test_vas_specvqgan_layout_and_lists(vas_data, tmp_path):
    out = tmp_path / "m"
    code, _, err = run_data("vas", str(vas_data / "vas"), "-o", str(out), "--val-fraction", "0")
    assert code == 0, err
    assert split_ids(out) == {
        "train": ["dog/video_02654", "dog/video_02655", "drum/video_02479"],
        "val": [],
        "test": ["dog/video_02657", "drum/video_02478"],
    }
    assert report(out) == {"drum/video_02480": "missing", "dog/video_09999": "unlisted"}
    unlisted = json.loads((out / "report.jsonl").read_text().splitlines()[1])
    assert unlisted["split"] == "" and "not in vas_train.txt or vas_valid.txt" in unlisted["message"]
    assert read_manifest(out / "test.jsonl")[1].attributes == {"class": "drum"}


def test_vas_regnet_layout_without_lists_uses_regnets_rule(tmp_path):
    root = tmp_path / "VAS"
    for n in (1, 2, 3):
        make_clip(root / "dog/videos" / f"video_{n:05d}.mp4", seed=n)
    code, _, err = run_data("vas", str(root), "-o", str(tmp_path / "m"))
    assert code == 0, err
    assert "RegNet's rule" in err
    # fewer clips than the 128 RegNet holds out for a dog: all of them are test clips
    assert split_ids(tmp_path / "m")["test"] == ["dog/video_00001", "dog/video_00002", "dog/video_00003"]


def test_greatest_hits_events_lists_and_bad_annotations(tmp_path):
    root = greatest_hits_layout(tmp_path / "vis-data")
    out = tmp_path / "m"
    code, _, err = run_data("greatest-hits", str(root), "-o", str(out), "--val-fraction", "0")
    assert code == 0, err
    assert split_ids(out) == {"train": ["2015-02-16-16-49-06"], "val": [], "test": ["2015-02-16-17-02-11"]}
    assert report(out) == {
        "2015-03-01-10-00-00": "bad_annotation",
        "2016-01-01-00-00-00": "missing",
        "2016-02-02-00-00-00": "unlisted",
        "2016-03-03-00-00-00": "unlisted",
        "2017-07-07-00-00-00": "missing",
    }
    bad = [json.loads(line) for line in (out / "report.jsonl").read_text().splitlines()][0]
    assert "2015-03-01-10-00-00_times.txt:2" in bad["message"]
    (train,) = read_manifest(out / "train.jsonl")
    assert [(e.time, e.material, e.kind, e.object) for e in train.events] == [
        (0.51, "wood", "hit", "drumstick"),
        (0.9, "rock", "scratch", "drumstick"),
        (1.2, "", "", "drumstick"),
    ]
    assert train.attributes == {"reactions": ["static", "rigid-motion", ""]}
    assert train.path.name == "2015-02-16-16-49-06_denoised.mp4"
    (test,) = read_manifest(out / "test.jsonl")
    assert [(e.material, e.kind) for e in test.events] == [("metal", "hit")]


@pytest.mark.parametrize(
    "source, expected",
    [
        ("msvd", "expected AllVideoDescriptions.txt or annotations.txt or MSR Video Description Corpus.csv"),
        ("msrvtt", "expected train_val_videodatainfo.json and test_videodatainfo.json"),
        ("vggsound", "no VGGSound CSV; expected vggsound.csv"),
        ("vas", "expected videos/<class>/video_<N>.mp4"),
        ("greatest-hits", "expected <name>_times.txt files"),
        ("folder", "no media files"),
    ],
)
def test_a_wrong_layout_names_the_expected_file(source, expected, tmp_path):
    (tmp_path / "root").mkdir()
    code, _, err = run_data(source, str(tmp_path / "root"), "-o", str(tmp_path / "m"))
    assert code == 2 and expected in err and str(tmp_path / "root") in err


def test_a_bad_split_is_named_with_what_is_allowed(tmp_path):
    make_clip(tmp_path / "root/a.mp4")
    code, _, err = run_data("folder", str(tmp_path / "root"), "-o", str(tmp_path / "m"), "--split", "0.8,0.3")
    assert code == 2
    assert "Invalid split '0.8,0.3': give three fractions train,val,test that are >= 0 and sum to 1" in err
    code, _, err = run_data("vas", str(tmp_path / "root"), "-o", str(tmp_path / "m"), "--val-fraction", "1")
    assert code == 2 and "Invalid val fraction 1.0: must be >= 0 and < 1" in err


def test_no_usable_clip_exits_1_after_writing_the_report(tmp_path):
    make_clip(tmp_path / "root/mute.mp4", audio=None)
    code, _, err = run_data("folder", str(tmp_path / "root"), "-o", str(tmp_path / "m"))
    assert code == 1 and "no clip of folder could be used" in err
    assert report(tmp_path / "m") == {"mute": "no_audio"}
