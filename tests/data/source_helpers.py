"""Tiny clips laid out as each dataset lays them out, and a runner for ``avseq data``.

Each ``*_layout(root)`` writes one dataset's files as it is downloaded, good clips with missing,
broken and silent ones mixed in (the cases tests/data/test_sources.py checks), and returns ROOT
for ``avseq data SOURCE ROOT``; tests/train/test_real_configs.py trains on the same layouts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from avseq.cli import main

RATE = 16000


def make_clip(
    path: Path, seconds: float = 1.5, audio: str | None = "tone", seed: int = 0, fps: float = 8.0
) -> Path:
    """A seeded noise clip of (H, W) = (16, 24); audio: "tone" (a 440 Hz sine at half scale),
    "silent" (digital silence) or None (no audio stream)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 255, size=(max(int(seconds * fps), 1), 16, 24, 3), dtype=np.uint8)
    wave = None
    if audio is not None:
        t = np.arange(int(seconds * RATE)) / RATE
        wave = (0.5 * np.sin(2 * np.pi * 440 * t) if audio == "tone" else 0 * t).astype(np.float32)
    from avseq.io import write_video

    return write_video(path, frames, fps=fps, audio=wave, sample_rate=RATE)


def make_corrupt(path: Path) -> Path:
    """A file with a video name that holds no media."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("<html>404 not found</html>\n")
    return path


def run_data(*args: str) -> tuple[int, str, str]:
    """``avseq data ARGS`` in process: (exit code, stdout, stderr)."""
    result = CliRunner().invoke(
        main, ["data", *args, "--no-progress", "--workers", "2"], catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


def report(out: Path) -> dict[str, str]:
    """id -> reason of every clip left out."""
    lines = (out / "report.jsonl").read_text().splitlines()
    return {r["id"]: r["reason"] for r in map(json.loads, lines)}


def split_ids(out: Path) -> dict[str, list[str]]:
    """split -> ids of its manifest, in order."""
    return {
        s: [json.loads(line)["id"] for line in (out / f"{s}.jsonl").read_text().splitlines()]
        for s in ("train", "val", "test")
    }


def msvd_layout(root: Path) -> Path:
    """MSVD: YouTubeClips/*.avi (one stored under its mapped name, one without audio, one
    broken), AllVideoDescriptions.txt (one clip never downloaded) and youtube_mapping.txt."""
    clips = root / "YouTubeClips"
    make_clip(clips / "-4wsuPCjDBc_5_15.avi", audio=None, seed=1)
    make_clip(clips / "ab_0_9.avi", seed=2)
    make_clip(clips / "vid1500.avi", seed=3)  # stored under its mapped name
    make_corrupt(clips / "bad_3_4.avi")
    (root / "AllVideoDescriptions.txt").write_text(
        "# Microsoft Research Video Description Corpus\n# Format: VideoID Description\n\n"
        "-4wsuPCjDBc_5_15 a squirrel is eating a peanut\n"
        "-4wsuPCjDBc_5_15 A chipmunk eats.\n"
        "ab_0_9 a man plays a guitar\n"
        "gone_1_2 no video for this one\n"
        "zz_1_2 a woman is slicing an onion\n"
        "bad_3_4 a broken file\n"
    )
    (root / "youtube_mapping.txt").write_text(
        "-4wsuPCjDBc_5_15 vid1\nab_0_9 vid1201\nzz_1_2 vid1500\ngone_1_2 vid2\nbad_3_4 vid3\n"
    )
    return root


def _msrvtt_doc(videos, sentences):
    return {"info": {"year": "2016"}, "videos": videos, "sentences": sentences}


def msrvtt_layout(root: Path) -> Path:
    """MSR-VTT: video<N>.mp4 in two folders, the train/val annotation file in a sub-folder and
    the test one at the top; one clip without captions, one never downloaded, one too short."""
    make_clip(root / "TrainValVideo/video0.mp4", seed=0)
    make_clip(root / "TrainValVideo/video1.mp4", seed=1)
    make_clip(root / "TrainValVideo/video3.mp4", seed=3)
    make_clip(root / "TestVideo/video2.mp4", seed=2, seconds=0.5)
    make_clip(root / "TestVideo/video4.mp4", seed=4)
    train_val = _msrvtt_doc(
        [
            {"video_id": "video0", "split": "train", "category": 9, "id": 0},
            {"video_id": "video1", "split": "validate", "category": 3, "id": 1},
            {"video_id": "video3", "split": "train", "category": 1, "id": 3},
            {"video_id": "video5", "split": "train", "category": 1, "id": 5},
        ],
        [
            {"video_id": "video0", "caption": "a man is cooking", "sen_id": 0},
            {"video_id": "video1", "caption": "people are dancing", "sen_id": 1},
            {"video_id": "video0", "caption": "someone cooks food", "sen_id": 2},
            {"video_id": "video5", "caption": "never downloaded", "sen_id": 3},
        ],
    )
    test = _msrvtt_doc(
        [{"video_id": "video2", "split": "test", "id": 2}, {"video_id": "video4", "split": "test", "id": 4}],
        [
            {"video_id": "video2", "caption": "a short clip", "sen_id": 4},
            {"video_id": "video4", "caption": "a car drives", "sen_id": 5},
        ],
    )
    (root / "train_val_annotation").mkdir(parents=True)
    (root / "train_val_annotation/train_val_videodatainfo.json").write_text(json.dumps(train_val))
    (root / "test_videodatainfo.json").write_text(json.dumps(test))
    return root


VGG_ROWS = [
    ("---g-f_I2yQ", 1, "people marching", "test"),
    ("abcdefghijk", 30, "cattle, bovinae cowbell", "train"),
    ("lmnopqrstuv", 0, "dog barking", "train"),
    ("wxyz0123456", 12, "dog barking", "train"),
    ("quiet000000", 5, "wind noise", "train"),
    ("notfetched0", 7, "playing drums", "test"),
]


def vggsound_layout(root: Path) -> Path:
    """VGGSound: vggsound.csv (:data:`VGG_ROWS`) and video/{ytid}_{start:06d}.mp4; one clip
    silent, one never downloaded."""
    root.mkdir(parents=True)
    lines = [
        f'{y},{s},"{label}",{split}' if "," in label else f"{y},{s},{label},{split}"
        for y, s, label, split in VGG_ROWS
    ]
    (root / "vggsound.csv").write_text("\n".join(lines) + "\n")
    for i, (ytid, start, *_) in enumerate(VGG_ROWS[:4]):
        make_clip(root / "video" / f"{ytid}_{start:06d}.mp4", seed=i)
    make_clip(root / "video" / "quiet000000_000005.mp4", audio="silent", seed=8)
    return root


def vas_layout(data: Path) -> Path:
    """SpecVQGAN's data/: vas/videos/<class>/ and the two split lists beside vas/ (one listed
    clip missing, one clip in no list). Returns ``data / "vas"``, the ROOT of ``avseq data vas``."""
    for cls, numbers in (("dog", (2654, 2655, 2657)), ("drum", (2478, 2479))):
        for n in numbers:
            make_clip(data / "vas/videos" / cls / f"video_{n:05d}.mp4", seed=n)
    make_clip(data / "vas/videos/dog/video_09999.mp4", seed=1)  # on disk, in no list
    (data / "vas_train.txt").write_text(
        "dog/video_02654\ndog/video_02655\ndrum/video_02479\ndrum/video_02480\n"
    )
    (data / "vas_valid.txt").write_text("dog/video_02657\ndrum/video_02478\n")
    return data / "vas"


GREATEST_HITS = ("2015-02-16-16-49-06", "2015-02-16-17-02-11", "2015-03-01-10-00-00")


def greatest_hits_layout(root: Path) -> Path:
    """The Greatest Hits: <name>_denoised.mp4 (+ thumbnails) and <name>_times.txt, train.txt /
    test.txt; a bad annotation line, an annotation without video, a video without annotation and
    recordings in neither list."""
    for i, name in enumerate(GREATEST_HITS):
        make_clip(root / f"{name}_denoised.mp4", seed=i, seconds=2.0)
        make_clip(root / f"{name}_denoised_thumb.mp4", seed=i, seconds=2.0)
    (root / "2015-02-16-16-49-06_times.txt").write_text(
        "0.51 wood hit static\n1.20 None None None\n0.90 rock scratch rigid-motion\n"
    )
    (root / "2015-02-16-17-02-11_times.txt").write_text("0.75 hit metal\n")  # action before material
    (root / "2015-03-01-10-00-00_times.txt").write_text("0.5 wood hit static\nhalf-past leaf hit\n")
    (root / "2016-01-01-00-00-00_times.txt").write_text("0.3 leaf hit\n")  # no video
    make_clip(root / "2016-02-02-00-00-00_denoised.mp4", seed=9)  # no annotation
    make_clip(root / "2016-03-03-00-00-00_denoised.mp4", seed=10)  # in neither list
    (root / "2016-03-03-00-00-00_times.txt").write_text("0.3 leaf hit\n")
    (root / "train.txt").write_text("2015-02-16-16-49-06\n2015-03-01-10-00-00\n")
    (root / "test.txt").write_text("2015-02-16-17-02-11\n2016-01-01-00-00-00\n2017-07-07-00-00-00\n")
    return root
