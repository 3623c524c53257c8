"""Is finding the acting object what keeps level-2 attributes at chance? A probe that says how much.

Each clear event of level-2 clips (the examples ``classify_level2.yaml`` trains on: not covered by
another event for more than half its span) is seen as 8 frames spread over its span. From the
event's ``track`` (the renderer's ground truth), this probe knows where the acting object is on
each frame and scores, on the test split's clear events:

- ``true_position``: a small CNN names colour, shape and material from crops centred on the acting
  object (20 pixels square, in the frame's view), its logits averaged over the event's frames;
- ``predicted_position``: the same, with crops centred where a locator predicts the acting object
  is: a CNN over each frame, its change from two frames before and the event's mean motion,
  trained on the training events' true positions (a cell of ``STRIDE`` pixels); only the crops differ;
- ``scene_object``: what naming one of the scene's objects at random scores (its expected value):
  a model that sees the objects but cannot tell which one acts.

Frames are rendered in memory (no H.264), at the size of ``classify_level2.yaml``'s world. Both CNNs
are trained from scratch on the CPU. Prints one JSON line per result, then the whole result.

Run: ``.venv/bin/python tools/probe_level2_binding.py [--train-clips 480] [--test-clips 80]
[--steps 1500] [--locator-steps 1500] [--workers 2] [--json out.json]``: about 15 minutes on two
cores with the defaults.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from avseq.data.datasets import ambiguous  # noqa: E402
from avseq.data.synth.level2.clip import render_level2  # noqa: E402
from avseq.data.synth.level2.config import Level2Config  # noqa: E402
from avseq.data.synth.split import clip_seed  # noqa: E402

WORLD = Level2Config(width=96, height=64, fps=15, min_duration=8, max_duration=16, min_events=3, max_events=6)
ATTRIBUTES = ("colour", "shape", "material")
STRIDE = 4  # pixels per locator cell


def clear_events(seed: int, frames: int) -> list[dict]:
    """The clear events of clip ``seed``: frames (K, H, W, 3), the frames two before them, the acting
    object's centre on each frame in view pixels (K, 2), its attributes and the scene's objects."""
    clip = render_level2(seed, WORLD)
    scene = clip.scene
    out = []
    for planned, event in zip(scene.events, clip.events, strict=True):
        if ambiguous(event, clip.events):
            continue
        ts = np.linspace(planned.start, planned.end - 1, frames).round().astype(int)
        where = np.array(event.track)[ts - planned.start, 1:]  # fractions of the view's width, height
        out.append({
            "frames": clip.frames[ts], "before": clip.frames[np.maximum(ts - 2, 0)],
            "position": (where * (WORLD.width, WORLD.height) - 0.5).astype(np.float32),
            "labels": {a: getattr(event, a) for a in ATTRIBUTES},
            "objects": [o.name.split() for o in scene.objects],
        })  # fmt: skip
    return out


def events_of(split: str, clips: int, frames: int, workers: int) -> list[dict]:
    seeds = [clip_seed(split, i) for i in range(clips)]
    with Pool(workers) as pool:
        return [e for clip in pool.starmap(clear_events, [(s, frames) for s in seeds]) for e in clip]


def crops(frames: np.ndarray, centres: np.ndarray, size: int) -> np.ndarray:
    """(K, size, size, 3) windows of ``frames`` centred on ``centres`` (x, y), zero outside the view."""
    h, w = frames.shape[1:3]
    padded = np.pad(frames, ((0, 0), (size, size), (size, size), (0, 0)))
    out = []
    for frame, (cx, cy) in zip(padded, centres, strict=True):
        x0 = min(max(int(round(cx)) + size - size // 2, 0), w + size)
        y0 = min(max(int(round(cy)) + size - size // 2, 0), h + size)
        out.append(frame[y0 : y0 + size, x0 : x0 + size])
    return np.stack(out)


def _block(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride, 1), nn.BatchNorm2d(c_out), nn.ReLU()]


def _unit(x: torch.Tensor) -> torch.Tensor:
    """(..., H, W, 3) uint8 -> (N, 3, H, W) in [-1, 1]."""
    return x.flatten(0, -4).permute(0, 3, 1, 2).float() / 127.5 - 1


class Namer(nn.Module):
    """Crops (B, K, C, C, 3) -> one logit vector per attribute, averaged over the K crops."""

    def __init__(self, classes: list[list[str]]) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_block(3, 32, 1), *_block(32, 64, 2), *_block(64, 64, 2), *_block(64, 128, 2)
        )
        self.heads = nn.ModuleList(nn.Linear(128, len(c)) for c in classes)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        b, k = x.shape[:2]
        h = self.features(_unit(x)).amax((2, 3)).view(b, k, -1).mean(1)
        return [head(h) for head in self.heads]


class Locator(nn.Module):
    """Frames and the frames two before them (B, K, H, W, 3) -> (B * K, cells) logits of where the
    acting object is. Input per frame: the frame, its change, and the event's mean |change|."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_block(7, 32, 1), *_block(32, 32, 2), *_block(32, 64, 2), *_block(64, 64, 1), nn.Conv2d(64, 1, 1)
        )

    def forward(self, frames: torch.Tensor, before: torch.Tensor) -> torch.Tensor:
        b, k = frames.shape[:2]
        now = _unit(frames)
        change = now - _unit(before)
        energy = change.abs().sum(1, keepdim=True).unflatten(0, (b, k)).mean(1, keepdim=True)
        energy = energy.expand(b, k, *energy.shape[2:]).flatten(0, 1)
        return self.features(torch.cat([now, change, energy], 1)).flatten(1)


def _cells(position: torch.Tensor) -> torch.Tensor:
    cols, rows = WORLD.width // STRIDE, WORLD.height // STRIDE
    x = (position[..., 0] / STRIDE).long().clamp(0, cols - 1)
    y = (position[..., 1] / STRIDE).long().clamp(0, rows - 1)
    return y * cols + x


def train_locator(train: list[dict], steps: int, batch: int = 8) -> Locator:
    frames = torch.from_numpy(np.stack([e["frames"] for e in train]))
    before = torch.from_numpy(np.stack([e["before"] for e in train]))
    target = _cells(torch.from_numpy(np.stack([e["position"] for e in train])))
    torch.manual_seed(0)
    locator = Locator()
    opt = torch.optim.AdamW(locator.parameters(), 2e-3, weight_decay=0.01)
    for _ in range(steps):
        idx = torch.randint(0, len(train), (min(batch, len(train)),))
        loss = nn.functional.cross_entropy(locator(frames[idx], before[idx]), target[idx].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return locator.eval()


@torch.no_grad()
def locate(locator: Locator, event: dict) -> np.ndarray:
    """(K, 2) predicted centres (x, y) in view pixels: the middle of each frame's top cell."""
    cell = locator(torch.from_numpy(event["frames"])[None], torch.from_numpy(event["before"])[None]).argmax(1)
    cols = WORLD.width // STRIDE
    return torch.stack([(cell % cols + 0.5) * STRIDE, (cell // cols + 0.5) * STRIDE], 1).numpy()


def name_accuracy(train_crops, train_labels, test_crops, test_labels, steps: int, batch: int = 32) -> dict:
    """Per-attribute test accuracy of a :class:`Namer` trained on the training crops (with flips)."""
    classes = [sorted({labels[a] for labels in train_labels}) for a in ATTRIBUTES]

    def index(all_labels):
        return torch.tensor(
            [
                [c.index(lab[a]) if lab[a] in c else -1 for c, a in zip(classes, ATTRIBUTES, strict=True)]
                for lab in all_labels
            ]
        )

    x, y = torch.from_numpy(np.stack(train_crops)), index(train_labels)
    x_test, y_test = torch.from_numpy(np.stack(test_crops)), index(test_labels)
    torch.manual_seed(0)
    namer = Namer(classes)
    opt = torch.optim.AdamW(namer.parameters(), 2e-3, weight_decay=0.01)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (min(batch, len(x)),))
        xb = x[idx].flip(3) if torch.rand(()) < 0.5 else x[idx]  # a mirrored object keeps its names
        loss = sum(nn.functional.cross_entropy(out, y[idx, i]) for i, out in enumerate(namer(xb)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    namer.eval()
    with torch.no_grad():
        outs = [
            torch.cat(parts)
            for parts in zip(*(namer(x_test[i : i + 64]) for i in range(0, len(x_test), 64)), strict=True)
        ]
    return _with_mean(
        {
            a: float((o.argmax(1) == y_test[:, i]).float().mean())
            for i, (a, o) in enumerate(zip(ATTRIBUTES, outs, strict=True))
        }
    )


def scene_object(events: list[dict]) -> dict:
    """Expected accuracy of naming a random object of the event's scene."""
    slot = {"colour": 0, "material": 1, "shape": 2}  # names read "red metal ball"
    return _with_mean({
        a: float(np.mean([np.mean([o[slot[a]] == e["labels"][a] for o in e["objects"]]) for e in events]))
        for a in ATTRIBUTES
    })  # fmt: skip


def _with_mean(acc: dict) -> dict:
    acc = {k: round(v, 3) for k, v in acc.items()}
    return {**acc, "mean": round(float(np.mean(list(acc.values()))), 3)}


def probe(train_clips: int, test_clips: int, steps: int, locator_steps: int, frames: int = 8, crop: int = 20,
          workers: int = 2, emit=print) -> dict:  # fmt: skip
    start = time.perf_counter()
    train = events_of("train", train_clips, frames, workers)
    test = events_of("test", test_clips, frames, workers)
    result = {
        "train_events": len(train),
        "test_events": len(test),
        "render_s": round(time.perf_counter() - start),
    }
    emit(json.dumps(result))
    result["scene_object"] = scene_object(test)
    emit(json.dumps({"scene_object": result["scene_object"]}))
    train_crops = [crops(e["frames"], e["position"], crop) for e in train]
    labels = ([e["labels"] for e in train], [e["labels"] for e in test])
    truth = [crops(e["frames"], e["position"], crop) for e in test]
    result["true_position"] = name_accuracy(train_crops, labels[0], truth, labels[1], steps)
    emit(json.dumps({"true_position": result["true_position"]}))
    locator = train_locator(train, locator_steps)
    guessed = [locate(locator, e) for e in test]
    error = np.concatenate(
        [np.linalg.norm(g - e["position"], axis=1) for g, e in zip(guessed, test, strict=True)]
    )
    result["locator"] = {"median_error_px": round(float(np.median(error)), 1),
                         "within_6px": round(float((error < 6).mean()), 3)}  # fmt: skip
    predicted = [crops(e["frames"], g, crop) for g, e in zip(guessed, test, strict=True)]
    result["predicted_position"] = name_accuracy(train_crops, labels[0], predicted, labels[1], steps)
    emit(json.dumps({k: result[k] for k in ("locator", "predicted_position")}))
    result["seconds"] = round(time.perf_counter() - start)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-clips", type=int, default=480)
    parser.add_argument("--test-clips", type=int, default=80)
    parser.add_argument(
        "--steps", type=int, default=1500, help="training steps of the namer (32 events each)"
    )
    parser.add_argument(
        "--locator-steps", type=int, default=1500, help="training steps of the locator (8 events each)"
    )
    parser.add_argument("--workers", type=int, default=2, help="processes rendering clips")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    result = probe(args.train_clips, args.test_clips, args.steps, args.locator_steps, workers=args.workers)
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
