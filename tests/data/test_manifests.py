"""Manifest readers (JSONL, CSV) and the MSVD / MSR-VTT adapters on tiny hand-written files."""

from __future__ import annotations

import json

import pytest

from avseq.data import Event, ManifestEntry, read_manifest, write_manifest
from avseq.data.adapters import read_msrvtt, read_msvd
from avseq.errors import ConfigError


def test_jsonl_roundtrip_keeps_every_field(tmp_path):
    (tmp_path / "clips").mkdir()
    entry = ManifestEntry(
        path=(tmp_path / "clips" / "a.mp4").resolve(),
        id="a",
        split="train",
        captions=("a red ball bounces twice", "a ball bounces"),
        events=(Event(0.4, "red metal ball", "metal", "floor_hit", 0.9),),
        duration=2.0,
        fps=15.0,
        sample_rate=16000,
        attributes={"colour": "red", "count": 2},
    )
    path = write_manifest(tmp_path / "m.jsonl", [entry])
    assert json.loads(path.read_text())["path"] == "clips/a.mp4"
    assert read_manifest(path) == [entry]


def test_jsonl_defaults_and_errors_name_the_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"path": "sub/x.mp4"}\n\n{"path": "y.mkv", "captions": "one caption"}\n')
    a, b = read_manifest(path)
    assert a.id == "sub/x" and a.path == (tmp_path / "sub" / "x.mp4").resolve() and a.captions == ()
    assert b.captions == ("one caption",)
    path.write_text('{"path": "x.mp4"}\n{"id": "y"}\n')
    with pytest.raises(ConfigError, match=r"m\.jsonl:2: missing or empty key 'path'"):
        read_manifest(path)
    path.write_text('{"path": "x.mp4"\n')
    with pytest.raises(ConfigError, match=r"m\.jsonl:1: invalid JSON"):
        read_manifest(path)
    path.write_text('{"path": "x.mp4", "duration": "long"}\n')
    with pytest.raises(ConfigError, match=r"'duration' must be a number, got 'long'"):
        read_manifest(path)


def test_unknown_manifest_type_lists_choices(tmp_path):
    (tmp_path / "m.txt").write_text("x")
    with pytest.raises(ConfigError, match=r"unsupported manifest type '\.txt'\. Supported: \.jsonl, \.csv"):
        read_manifest(tmp_path / "m.txt")
    with pytest.raises(ConfigError, match="manifest not found"):
        read_manifest(tmp_path / "none.jsonl")


def test_csv_merges_caption_rows_and_reads_caption_lists(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(
        "path,id,split,caption\n"
        "v/a.mp4,a,train,a dog runs\n"
        "v/a.mp4,a,train,a dog is running\n"
        "v/b.mp4,,test,a cat sleeps\n"
    )
    a, b = read_manifest(path)
    assert (a.id, a.split, a.captions) == ("a", "train", ("a dog runs", "a dog is running"))
    assert (b.id, b.split, b.captions) == ("v/b", "test", ("a cat sleeps",))
    path.write_text('Path,Captions,Duration\nc.mp4,"[""one"", ""two""]",1.5\nd.mp4,x | y,\n')
    c, d = read_manifest(path)
    assert c.captions == ("one", "two") and c.duration == 1.5 and d.captions == ("x", "y")
    path.write_text("file,caption\nc.mp4,x\n")
    with pytest.raises(ConfigError, match=r"needs a 'path' column, got columns \['file', 'caption'\]"):
        read_manifest(path)


@pytest.fixture
def msvd(tmp_path):
    videos = tmp_path / "YouTubeClips"
    videos.mkdir()
    for name in ("-4wsuPCjDBc_5_15.avi", "vid1201.avi", "zz_1_2.mp4"):
        (videos / name).write_bytes(b"x")
    (tmp_path / "annotations.txt").write_text(
        "# MSVD captions\n"
        "-4wsuPCjDBc_5_15 a squirrel is eating a peanut\n"
        "-4wsuPCjDBc_5_15 A chipmunk eats.\n"
        "ab_0_9 a man plays a guitar\n"
        "gone_1_2 no video for this one\n"
        "zz_1_2 a woman is slicing an onion\n"
    )
    (tmp_path / "youtube_mapping.txt").write_text(
        "-4wsuPCjDBc_5_15 vid1\nab_0_9 vid1201\nzz_1_2 vid1500\ngone_1_2 vid2\n"
    )
    return tmp_path


def test_msvd_text_annotations_with_mapping_and_splits(msvd):
    with pytest.warns(UserWarning, match="1 annotated clips have no video file"):
        entries = read_msvd(
            msvd / "YouTubeClips", msvd / "annotations.txt", mapping=msvd / "youtube_mapping.txt"
        )
    by_id = {e.id: e for e in entries}
    assert by_id["-4wsuPCjDBc_5_15"].captions == ("a squirrel is eating a peanut", "A chipmunk eats.")
    assert by_id["-4wsuPCjDBc_5_15"].split == "train"
    assert by_id["ab_0_9"].path.name == "vid1201.avi" and by_id["ab_0_9"].split == "val"
    assert by_id["zz_1_2"].split == "test" and "gone_1_2" not in by_id
    test = read_msvd(msvd / "YouTubeClips", msvd / "annotations.txt", mapping=msvd / "youtube_mapping.txt",
                     split="test")  # fmt: skip
    assert [e.id for e in test] == ["zz_1_2"]
    with pytest.raises(ConfigError, match=r"2 annotated clips have no video file in .* \(first: 'ab_0_9'\)"):
        read_msvd(msvd / "YouTubeClips", msvd / "annotations.txt", missing="error")
    with pytest.raises(ConfigError, match="needs the youtube_mapping.txt"):
        read_msvd(msvd / "YouTubeClips", msvd / "annotations.txt", split="train")


def test_msvd_official_csv_keeps_english_rows(msvd):
    (msvd / "corpus.csv").write_text(
        "VideoID,Start,End,WorkerID,Source,AnnotationTime,Language,Description\n"
        "-4wsuPCjDBc,5,15,1,clean,10,English,A squirrel eats.\n"
        "-4wsuPCjDBc,5,15,2,clean,10,German,Ein Eichhoernchen frisst.\n"
        "zz,1,2,3,unverified,12,English,Someone slices an onion.\n"
    )
    entries = read_msvd(msvd / "YouTubeClips", msvd / "corpus.csv")
    assert {e.id: e.captions for e in entries} == {
        "-4wsuPCjDBc_5_15": ("A squirrel eats.",),
        "zz_1_2": ("Someone slices an onion.",),
    }


def test_msrvtt_json_splits_and_sentences(tmp_path):
    videos = tmp_path / "TrainValVideo"
    videos.mkdir()
    for vid in ("video0", "video1", "video2"):
        (videos / f"{vid}.mp4").write_bytes(b"x")
    doc = {
        "info": {"year": "2016"},
        "videos": [
            {"video_id": "video0", "split": "train", "start time": 1.0, "end time": 11.0, "id": 0},
            {"video_id": "video1", "split": "validate", "id": 1},
            {"video_id": "video2", "split": "test", "id": 2},
        ],
        "sentences": [
            {"video_id": "video0", "caption": "a man is cooking", "sen_id": 0},
            {"video_id": "video1", "caption": "people are dancing", "sen_id": 1},
            {"video_id": "video0", "caption": "someone cooks food", "sen_id": 2},
        ],
    }
    (tmp_path / "train_val_videodatainfo.json").write_text(json.dumps(doc))
    entries = read_msrvtt(videos, tmp_path / "train_val_videodatainfo.json")
    assert [(e.id, e.split) for e in entries] == [("video0", "train"), ("video1", "val"), ("video2", "test")]
    assert entries[0].captions == ("a man is cooking", "someone cooks food") and entries[2].captions == ()
    assert [e.id for e in read_msrvtt(videos, tmp_path / "train_val_videodatainfo.json", split="val")] == [
        "video1"
    ]
    (tmp_path / "bad.json").write_text('{"sentences": []}')
    with pytest.raises(ConfigError, match="'videos' and 'sentences'"):
        read_msrvtt(videos, tmp_path / "bad.json")
