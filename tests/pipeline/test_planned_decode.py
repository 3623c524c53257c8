"""The decode planned from its consumers' needs: one decode, each branch exactly its frames, scaled in
the decoder, equal (within resize tolerance) to decoding at full size and resizing afterwards."""

from __future__ import annotations

import json
import pickle
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from avseq.io import decode_video, write_video
from avseq.models import Tokenizer
from avseq.pipeline import load_pipeline, parse_pipeline
from avseq.pipeline.plan import build_plan
from avseq.pipeline.stages import make_decoder
from avseq.pipeline.workers import Window
from avseq.transforms import fit, resize, to_float
from tests.pipeline.pipeline_helpers import PIPELINES
from tools.fuzzing.bundles import save_random_bundle

SHARED = Path(__file__).resolve().parents[3] / "shared" / "media"


def smooth_clip(path: Path, size=(360, 640), seconds: float = 2.0, fps: int = 30) -> Path:
    """Moving gradients and a bright box: content that resizes alike whichever way it is scaled."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    frames = np.empty((round(seconds * fps), h, w, 3), np.uint8)
    for i in range(len(frames)):
        frames[i, ..., 0] = 127 + 120 * np.sin((xx + 7 * i) / 40)
        frames[i, ..., 1] = 127 + 120 * np.cos((yy + 3 * i) / 30)
        frames[i, ..., 2] = (xx + yy + 5 * i) % 256 * 0.5
        x = (11 * i) % (w - w // 5)
        frames[i, h // 3 : h // 2, x : x + w // 5] = 250
    return write_video(path, frames, Fraction(fps), pix_fmt="yuv444p")


def decoded(spec, path: Path):
    """The decode stage's windows for ``path`` as the main process receives them from a worker
    (pickled: numpy in the worker, tensors here), and the built plan."""
    plan = build_plan(spec)
    return [pickle.loads(pickle.dumps(m)) for m in make_decoder(plan)(path) if isinstance(m, Window)], plan


def reference(path: Path, size, transform="fit", **sampling) -> tuple[torch.Tensor, torch.Tensor]:
    """What the frames stage made before the decode was planned: full size, resized in torch."""
    frames = decode_video(path, **sampling)
    return to_float((fit if transform == "fit" else resize)(frames.data, size)), frames.pts


def test_two_bundles_one_decode_each_branch_gets_exactly_its_frames(tmp_path, bundles):
    """A sound bundle at 15 fps 64x64 and a caption bundle at 8 fps 112x112 in one pipeline."""
    docs = {k: json.loads((bundles[k] / "bundle.json").read_text()) for k in ("sound", "caption")}
    sound_config = docs["sound"]["system"]["config"]
    sound_config["model"]["video_fps"] = 15.0
    sound_pre = {**docs["sound"]["preprocessing"], "fps": 15.0, "frame_size": [64, 64]}
    sound = save_random_bundle(tmp_path / "sound15", sound_config, sound_pre)
    caption_pre = {**docs["caption"]["preprocessing"], "fps": 8.0, "frame_size": [112, 112]}
    tokenizer = Tokenizer.from_dict(docs["caption"]["tokenizer"])
    caption = save_random_bundle(
        tmp_path / "caption8", docs["caption"]["system"]["config"], caption_pre, tokenizer=tokenizer
    )
    spec = load_pipeline(
        PIPELINES / "caption_and_sound.yaml",
        [f"stages.sound.params.bundle={sound}", f"stages.caption.params.bundle={caption}"],
    )
    clip = smooth_clip(tmp_path / "clip.mp4")
    [window], plan = decoded(spec, clip)
    video = window.values["decode"]
    assert tuple(video.frames.data.shape[-2:]) == (112, 199)  # scaled in the decoder, to cover 112x112
    for branch, fps, size in (("sound_frames", 15.0, (64, 64)), ("caption_frames", 8.0, (112, 112))):
        batch = plan.objects[branch]([[video]])
        want, pts = reference(clip, size, fps=fps)
        assert torch.equal(batch.pts[0], pts)  # exactly the frames decode_video gives at that rate
        diff = (batch.data[0] - want).abs()
        assert diff.mean() < 0.01 and diff.max() < 0.15, (branch, float(diff.mean()), float(diff.max()))
    # one decode: frames both rates ask for (k / 1 s) are decoded once
    assert len(video.frames) < 30 + 16


def test_every_branch_without_a_size_gets_full_frames(tmp_path):
    clip = smooth_clip(tmp_path / "clip.mp4", size=(36, 64), seconds=0.5)
    spec = parse_pipeline({"version": 1, "stages": [
        {"id": "decode", "type": "decode_video"},
        {"id": "small", "type": "frames", "input": "decode", "params": {"size": [8, 8]}},
        {"id": "full", "type": "frames", "input": "decode"},
    ]})  # fmt: skip
    [window], plan = decoded(spec, clip)
    assert tuple(window.values["decode"].frames.data.shape[-2:]) == (36, 64)
    assert plan.objects["small"]([[window.values["decode"]]]).data.shape[-2:] == (8, 8)


CASES = [
    ("moviepy__media_fire2.mp4", {"fps": 15.0}, (64, 64), "fit"),  # rotated -180, VFR, 1280x720
    ("torchcodec__test_resources_var_fps_video.mp4", {"fps": 15.0}, (64, 64), "fit"),  # VFR 128x128
    ("torchcodec__test_resources_nasa_13013.mp4", {"num_frames": 16}, (112, 112), "fit"),
    ("mmaction2__tests_data_test.mp4", {"num_frames": 8}, (64, 96), "resize"),
    ("CondFoleyGen__data_demo_video_hitting_metal.mp4", {"fps": 8.0}, (112, 112), "fit"),
]


@pytest.mark.media
@pytest.mark.parametrize("name, sampling, size, transform", CASES)
def test_planned_frames_match_full_size_decoding_on_real_clips(name, sampling, size, transform):
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (../shared/media)")
    spec = parse_pipeline({"version": 1, "stages": [
        {"id": "decode", "type": "decode_video", "params": {"num_frames": sampling.get("num_frames")}},
        {"id": "frames", "type": "frames", "input": "decode",
         "params": {"size": list(size), "transform": transform, "fps": sampling.get("fps")}},
    ]})  # fmt: skip
    windows, plan = decoded(spec, path)
    batch = plan.objects["frames"]([[w.values["decode"] for w in windows]])
    want, pts = reference(path, size, transform, **sampling)
    assert torch.equal(batch.pts[0], pts)
    diff = (batch.data[0] - want).abs().flatten()
    # swscale keeps its filter inside the frame at the edges where torch lets it hang over, so a
    # border column of a hard edge can differ; the bulk of the pixels must agree
    tail = float(diff.kthvalue(int(0.99 * len(diff))).values)
    assert diff.mean() < 0.02 and tail < 0.15, (float(diff.mean()), tail)


def test_a_faster_decode_set_in_the_file_feeds_a_branch_its_own_rate(tmp_path):
    """decode fps=8 (the file's), a 4 fps branch: the branch gets the frames shown at k / 4."""
    clip = smooth_clip(tmp_path / "clip.mp4", size=(24, 32), seconds=1.5)
    spec = parse_pipeline({"version": 1, "stages": [
        {"id": "decode", "type": "decode_video", "params": {"fps": 8}},
        {"id": "slow", "type": "frames", "input": "decode", "params": {"fps": 4}},
        {"id": "all", "type": "frames", "input": "decode"},
    ]})  # fmt: skip
    [window], plan = decoded(spec, clip)
    video = window.values["decode"]
    assert torch.equal(video.take("slow").pts, decode_video(clip, fps=4).pts)
    assert torch.equal(video.take("all").pts, decode_video(clip, fps=8).pts)  # no rate: the decode's


def test_the_memory_budget_cuts_windows_and_keeps_every_frame(tmp_path):
    """memory=16MiB gives a window 2 MiB: 320x240 frames (230 kB) come in windows of 9 frames."""
    clip = smooth_clip(tmp_path / "clip.mp4", size=(240, 320), seconds=1.0, fps=30)
    spec = parse_pipeline({"version": 1, "memory": "16MiB", "stages": [
        {"id": "decode", "type": "decode_video"},
        {"id": "frames", "type": "frames", "input": "decode"},
    ]})  # fmt: skip
    windows, _ = decoded(spec, clip)
    sizes = [len(w.values["decode"].frames) for w in windows]
    assert sizes == [9, 9, 9, 3]
    assert torch.equal(torch.cat([w.values["decode"].frames.data for w in windows]), decode_video(clip).data)
    assert [(w.start, w.end) for w in windows][0][0] == 0.0
    assert all(a.end == b.start for a, b in zip(windows, windows[1:], strict=False))
