"""How often a bundle's grounded encoder finds the acting object of level-2 events.

For each clear event of a split (the examples ``classify_level2.yaml`` trains and is scored on:
not covered by another event for more than half its span), the locator's best cell on every frame
of the span is compared with the event's ``track``, the renderer's ground truth. The locator runs
on each whole clip, as ``avseq eval``, the feature cache and the pipelines run it; only frames
where the object is in view count. Prints JSON: how many frames, the median distance in pixels,
the fraction within ``--within`` pixels, the same per action, and how many events have most of
their frames within.

Run: ``.venv/bin/python tools/locator_accuracy.py BUNDLE MANIFEST [--within 6] [--json out.json]``,
e.g. ``runs/classify_level2/best/bundle runs/synth_level2_data/test.jsonl`` (seconds on two cores).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from avseq.bundles import load  # noqa: E402
from avseq.data import read_manifest  # noqa: E402
from avseq.data.clips import load_frames  # noqa: E402
from avseq.data.datasets import labelled_spans, track_positions  # noqa: E402
from avseq.errors import ConfigError  # noqa: E402
from avseq.models.grounding import GroundedEncoder  # noqa: E402
from avseq.models.proposals import frame_span  # noqa: E402


def picks(encoder: GroundedEncoder, frames: torch.Tensor) -> torch.Tensor:
    """Frames (T, 3, H, W) in [0, 1] of one clip -> where the locator puts the object on each, (T, 2)
    (x, y) in pixels."""
    with torch.no_grad():
        return encoder.centres(encoder.locate(frames[None], torch.ones(1, len(frames), dtype=torch.bool)))


def distances(picked: torch.Tensor, positions: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """Picks (T, 2) in pixels, the object's positions (T, 2) as fractions of the frame's (height,
    width) ``size`` (NaN where unknown) -> the distances (pixels) on the frames where it is in view."""
    seen = ((positions >= 0) & (positions < 1)).all(1)
    scale = torch.tensor([size[1], size[0]], dtype=positions.dtype)
    return (picked - positions * scale).norm(dim=1)[seen].numpy()


def summary(errors: list[np.ndarray], within: float) -> dict:
    """Per-event distances -> frames, median distance, fraction within, events mostly within."""
    events = [e for e in errors if len(e)]
    every = np.concatenate(events) if events else np.zeros(0)
    if not len(every):
        return {"frames": 0, "events": 0}
    return {
        "frames": len(every),
        "median_px": round(float(np.median(every)), 2),
        "within": round(float((every < within).mean()), 3),
        "events": len(events),
        "events_mostly_within": round(float(np.mean([(e < within).mean() > 0.5 for e in events])), 3),
    }


def measure(bundle_path: str, manifest: str, within: float = 6.0) -> dict:
    bundle = load(bundle_path)
    found = [m for m in bundle.system.encoder.modules() if isinstance(m, GroundedEncoder)]
    if len(found) != 1:
        raise ConfigError(f"{bundle_path}: its encoder has {len(found)} grounded members, not one")
    encoder, prep = found[0].eval(), bundle.preprocessing
    errors: dict[str, list[np.ndarray]] = {}
    for entry in read_manifest(manifest):
        video = load_frames(entry.path, prep)
        spans = [s for s in labelled_spans(entry, ["action"]) if s.track]
        if not spans:
            continue
        picked = picks(encoder, video.data)
        for span in spans:
            first, last = frame_span(*span.span, prep.fps, len(video))
            cut = slice(first, last + 1)
            error = distances(picked[cut], track_positions(span.track, video)[cut], video.data.shape[-2:])
            errors.setdefault(span.labels.get("action", "?"), []).append(error)
    every = [e for per in errors.values() for e in per]
    return {
        "within_px": within,
        **summary(every, within),
        "by_action": {a: summary(e, within) for a, e in sorted(errors.items())},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", help="a classify bundle whose encoder has a grounded member")
    parser.add_argument("manifest", help="a split's manifest of level-2 clips, e.g. DATA/test.jsonl")
    parser.add_argument("--within", type=float, default=6.0, help="pixels that count as found (6)")
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args(argv)
    result = measure(args.bundle, args.manifest, args.within)
    print(json.dumps(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
