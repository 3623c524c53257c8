"""Give the shipped bundles their model card and feature statistics, without retraining.

For each bundle in ``avseq/bundles/data/``: render clips of the synthetic world it was trained on
(its ``meta.train_config.data.synth``), run its encoder over them through ``avseq run``'s own path
(``pipelines/extract_features.yaml`` with the bundle, so decode, scaling and the encoder are the
ones a run uses), fit the statistics on training clips (train seeds 0..N-1, clips the bundle was
trained on) and set the domain threshold on held-out clips (test seeds from 1,150,000, never used
in training, nor by the tests, which draw from 1,190,000), then write ``card`` and
``feature_stats`` into its bundle.json. The weights file is not touched (its SHA-256 is checked
before and after). ``--check DIR``: score the clips in DIR too (e.g. real footage in
../shared/media) and record how many the threshold flags, in ``feature_stats.calibration``.
``--keep-stats``: rewrite the card only (the level-2 bundles keep their training run's statistics:
rendering 1200 clips of 8-16 s would take most of an hour on 2 cores).

Run: ``.venv/bin/python tools/bundle_cards.py [--train 800] [--held-out 400] [--check ../shared/media]
[--work DIR] [--keep-stats] [NAME ...]``; prints each bundle's figures as one JSON line. Takes about
3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import torch
from safetensors.torch import load_file

from avseq.bundles import list_bundled, load
from avseq.bundles.card import ModelCard
from avseq.bundles.document import update_document
from avseq.bundles.domain import DEFAULT_MARGIN, DomainScorer, fit_feature_stats
from avseq.bundles.weights import sha256_file
from avseq.data.synth import SPLIT_SEEDS, config_from_dict, generate_split
from avseq.pipeline import expand_inputs, load_pipeline, run_pipeline

ROOT = Path(__file__).resolve().parents[1]
HELD_OUT_OFFSET = 50_000  # test seeds 1,150,000.. : neither training nor the tests use them

WORLD = (
    "avseq's synthetic world, level 1 (`avseq synth`): one ball, cube or pyramid (red, green, blue, "
    "yellow or purple; metal, wood, glass or rubber) that bounces, slides or is struck by a stick "
    "on a plain floor, with a floating distractor in half the clips; 2-4 s clips, 64x64 at 15 fps, "
    "impact sounds at 16 kHz"
)
WORLD_LEVEL2 = (
    "avseq's synthetic world, level 2 (`avseq synth --level 2`): 8-16 s clips of 3-6 events each "
    "(objects that bounce, slide into a wall or are struck, two or more often at once, with "
    "overlapping sounds), occluders, textured and changing backdrops, a shaking, zooming and panning "
    "camera, changing light, H.264 at realistic bitrates and ambience the video cannot predict; "
    "96x64 at 15 fps, 16 kHz sound"
)
LIMITS = [
    "`avseq run` flags inputs unlike its training clips: `domain: out` in results.jsonl when its "
    "encoder's features are far from theirs (feature_stats), one warning per run, a badge in the "
    "report.",
    "Sees 64x64 frames at 15 fps: other sizes are scaled and centre-cropped, details a few pixels "
    "across are lost.",
]
CARDS = {
    "synth-sound": {
        "summary": "Sound for silent video: predicts a 64-band log-mel at 16 kHz (100 frames/s) "
        "from the frames, with onsets where objects hit; the pipelines turn it into a waveform "
        "with Griffin-Lim.",
        "intended_inputs": "Silent clips of the synthetic world (`avseq synth`, `avseq demo`).",
        "limits": [
            "Knows only the synthetic world: on real footage it still runs, but every sound it makes "
            "is a synthetic impact or the quiet floor of that world, whatever the clip shows.",
            *LIMITS,
            "No speech, music or ambience: only impact sounds of four materials.",
        ],
    },
    "synth-caption": {
        "summary": "One-sentence captions of a clip (object, colour, material, action, count, "
        "distractor) by an attention LSTM over two CNNs' frame features (its own and "
        "synth-sound's, frozen), beam search 5 with consensus reranking.",
        "intended_inputs": "Clips of the synthetic world (`avseq synth`, `avseq demo`).",
        "limits": [
            "Knows only the synthetic world: on real footage it still runs, but every caption names "
            "a coloured ball, cube or pyramid doing one of that world's actions, whatever the clip shows.",
            *LIMITS,
            "Its vocabulary is the synthetic world's captions: no other words.",
        ],
    },
    "synth-frame-caption": {
        "summary": "One-sentence captions from a single frame, the middle one of a clip or window "
        "(one-to-many: a CNN's features of that frame start an LSTM decoder), beam search. It names "
        "what a still shows well (colour, and the pose that tells the action); shape less often, "
        "material and the hit count mostly not (see figures), and it does worse than retrieving the "
        "nearest training clip's caption: a baseline for the clip captioner, not a replacement.",
        "intended_inputs": "Clips of the synthetic world (`avseq synth`, `avseq demo`), in the "
        "caption stage like synth-caption.",
        "limits": [
            "Knows only the synthetic world: on real footage it still runs, but every caption names "
            "a coloured ball, cube or pyramid doing one of that world's actions, whatever the clip shows.",
            LIMITS[0],
            "Sees one 64x64 frame per clip or window (sampled at 4 fps, the middle one kept): other "
            "sizes are scaled and centre-cropped, and the action and how many times something is hit "
            "are guesses from a still.",
            "Its vocabulary is the synthetic world's captions: no other words.",
        ],
    },
    "synth-level2-sound": {
        "summary": "Sound for silent video on level 2 of the synthetic world: a 64-band log-mel at "
        "16 kHz from the frames, its onsets placed where the model's onset head calls a hit "
        "(system.model.onset_threshold); the pipelines turn it into a waveform with Griffin-Lim. "
        "Short of the level's onset F1 target of 0.8 (see figures): it misses slides' wall hits "
        "most, and hits off screen.",
        "intended_inputs": "Silent clips of the synthetic world's level 2 (`avseq synth --level 2`); "
        "in the sound pipelines with `--set stages.sound.params.bundle=synth-level2-sound`.",
        "limits": [
            "Knows only the synthetic world: on real footage it still runs, but every sound it makes "
            "is a synthetic impact or the quiet floor of that world, whatever the clip shows.",
            LIMITS[0],
            "Sees 96x64 frames at 15 fps: other sizes are scaled and centre-cropped.",
            "No speech, music or ambience: only impact sounds of four materials; the level's ambience "
            "is not predicted (the log-mel floor is -5).",
        ],
    },
    "synth-level2-dense": {
        "summary": "Captions with time spans (dense captioning) on level 2 of the synthetic world: a "
        "bidirectional GRU over the frame features proposes event spans, an attention LSTM "
        "captions each span; the caption stage's `mode: events` writes one timed cue per event. "
        "It finds the spans (F1 at tIoU 0.5 above the 0.7 target) and names the action and the "
        "number of hits, but the object's colour, shape and material only at chance level, and its "
        "METEOR over matched spans is short of 1.3x the uniform-segment baseline (see figures).",
        "intended_inputs": "Clips of the synthetic world's level 2 (`avseq synth --level 2`), in the "
        "`dense_captions` pipeline.",
        "limits": [
            "Knows only the synthetic world: on real footage it still runs, but every caption names "
            "a coloured ball, cube or pyramid doing one of that world's actions, whatever the clip shows.",
            LIMITS[0],
            "Sees 96x64 frames at 8 fps: other sizes are scaled and centre-cropped.",
            "Its vocabulary is the synthetic world's captions: no other words.",
        ],
    },
    "synth-level2-classify": {
        "summary": "What each event of a level-2 synthetic clip is (many-to-one): material, action, "
        "colour and shape of the acting object, one softmax each, from the event's frames. A compact "
        "CNN with motion sits beside a grounded encoder, whose locator finds the acting object and "
        "whose namer describes the window around it. Short of the level's per-attribute accuracy "
        "target of 0.9 (see figures): the locator finds the object on about three frames of four.",
        "intended_inputs": "Events of clips of the synthetic world's level 2 (`avseq synth --level "
        "2`), in the `event_labels` pipeline (the events synth-level2-dense proposes); a whole "
        "clip in the classify stage's `mode: clip` is not what it was trained on.",
        "limits": [
            "Knows only the synthetic world: on real footage it still runs, but every label is one "
            "of that world's materials, actions, colours and shapes, whatever the clip shows.",
            LIMITS[0],
            "Sees 96x64 frames at 8 fps: other sizes are scaled and centre-cropped.",
            "Scored on clear events (no other event covers half of its span); where two events "
            "overlap more, the labels may describe either object.",
        ],
    },
}


def world_of(meta: dict) -> str:
    """What the bundle was trained on: the synthetic world's level its training config names."""
    level = int((meta["train_config"]["data"].get("synth") or {}).get("level", 1))
    return WORLD_LEVEL2 if level == 2 else WORLD


def figures(meta: dict) -> tuple[dict[str, float], str]:
    """Key evaluation figures from ``meta.eval`` (as ``avseq eval`` recorded them), and their source."""
    ev = meta["eval"]
    systems, n = ev["systems"], ev["clips"]
    if meta["task"] == "sound":
        model, retrieval, mean_mel = systems["model"], systems["retrieval"], systems["mean_mel"]
        found = {
            "onset F1 (within 1 frame)": model["onset_frame"]["f1"],
            "onset F1, retrieval baseline": retrieval["onset_frame"]["f1"],
            "median |sync offset| (ms)": model["sync_median_abs_ms"],
            "log-spectral distance (dB)": model["lsd_db"],
            "log-spectral distance, mean log-mel baseline (dB)": mean_mel["lsd_db"],
        }
    elif meta["task"] == "dense_caption":
        at, uniform, nearest = (
            systems["model"]["tIoU=0.5"],
            systems["uniform"]["tIoU=0.5"],
            systems["nearest_neighbour"]["tIoU=0.5"],
        )
        found = {
            "event-span F1 at tIoU 0.5": at["f1"],
            "event-span F1 at tIoU 0.5, uniform segments": uniform["f1"],
            "event-span F1 at tIoU 0.5, nearest training clip's events": nearest["f1"],
            "METEOR over spans matched at tIoU 0.5": at["METEOR"],
            "METEOR over matched spans, uniform segments captioned by the model": uniform["METEOR"],
            "CIDEr over spans matched at tIoU 0.5": at["CIDEr"],
        }
    elif meta["task"] == "classify":
        model, majority, nearest = systems["model"], systems["majority"], systems["nearest_neighbour"]
        found = {
            "mean attribute accuracy": model["mean"],
            **{f"{name} accuracy": value for name, value in model["attributes"].items()},
            "mean attribute accuracy, majority class baseline": majority["mean"],
            "mean attribute accuracy, nearest training event baseline": nearest["mean"],
        }
    else:
        model, nearest = systems["model"], systems["nearest_neighbour"]
        found = {
            "BLEU-4": model["BLEU-4"],
            "CIDEr": model["CIDEr"],
            "CIDEr, nearest-neighbour baseline": nearest["CIDEr"],
            "METEOR": model["METEOR"],
            "attribute accuracy": model["attributes"]["mean"],
        }
    start = SPLIT_SEEDS[ev["split"]][0]
    where = (
        f"`avseq eval` on {n} synthetic {ev['split']} clips (seeds {start}-{start + n - 1}, never seen "
        f"in training) against baselines scored the same way; the whole report is meta.eval, the "
        f"commands that remake it meta.reproduce"
    )
    return {k: round(float(v), 4) for k, v in found.items()}, where


def trained_on(meta: dict) -> str:
    cfg = meta["train_config"]
    clips = cfg["data"]["splits"]["train"]["clips"]
    return (
        f"{clips} clips of {world_of(meta)} (train seeds 0-{clips - 1}); `avseq train` with seed "
        f"{meta['seed']} on a 2-core CPU, the checkpoint of step {meta['step']} of {cfg['train']['steps']}"
    )


def pipeline_features(bundle: str, inputs: list[str], out: Path) -> dict[str, torch.Tensor]:
    """Per-input features (T, D) of ``bundle``'s encoder, computed as ``avseq run`` computes them."""
    spec = load_pipeline(
        ROOT / "pipelines" / "extract_features.yaml", [f"stages.encode.params.bundle={bundle}", "device=cpu"]
    )
    run_pipeline(spec, expand_inputs(inputs), out, progress=False)
    found = {}
    for line in (out / "results.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["status"] in ("ok", "skipped"):
            found[rec["id"]] = load_file(str(out / rec["outputs"]["features_safetensors"]))["features"]
    return found


def card_bundle(
    name: str, work: Path, n_train: int, n_held: int, check: Path | None, keep_stats: bool
) -> dict:
    bundle = load(name)
    folder, meta = Path(bundle.path), bundle.meta
    weights = folder / "weights.safetensors"
    sha = sha256_file(weights)
    if keep_stats and bundle.feature_stats is not None:
        stats, record = bundle.feature_stats, {"bundle": name, "threshold": bundle.feature_stats.threshold}
    else:
        stats, record = fit_stats(name, meta, work, n_train, n_held, check)
    update_document(folder, card=card_of(name, meta), feature_stats=stats)
    if sha256_file(weights) != sha:
        raise RuntimeError(f"{weights}: changed while writing the card")
    load(name)  # the new document loads
    return record


def fit_stats(name: str, meta: dict, work: Path, n_train: int, n_held: int, check: Path | None) -> tuple:
    """The bundle's feature statistics and a record of the figures behind them."""
    config = config_from_dict(meta["train_config"]["data"]["synth"])
    data = work / f"synth-{config.fps}fps-{config.width}x{config.height}"
    generate_split(data, "train", n_train, config, workers=2, progress=False)
    generate_split(data, "test", n_held, config, seed_offset=HELD_OUT_OFFSET, workers=2, progress=False)
    train = pipeline_features(name, [str(data / "train.jsonl")], work / name / "train")
    held = pipeline_features(name, [str(data / "test.jsonl")], work / name / "held_out")
    first = SPLIT_SEEDS["test"][0] + HELD_OUT_OFFSET
    stats = fit_feature_stats(
        list(train.values()),
        list(held.values()),
        source=f"{len(train)} training clips (train seeds 0-{n_train - 1}) of {world_of(meta)}",
        margin=DEFAULT_MARGIN,
        calibration={"held_out_seeds": f"{first}-{first + n_held - 1} (test range, never used in training)"},
    )
    record = {"bundle": name, "threshold": stats.threshold, "train_scores": stats.train_scores,
              "held_out": stats.calibration["held_out_scores"]}  # fmt: skip
    if check is not None:
        scores = _scores(stats, pipeline_features(name, [str(check)], work / name / "check"))
        flagged = sum(s > stats.threshold for s in scores.values())
        checked = {
            "what": f"{len(scores)} clips of real footage ({check.name}/)",
            "flagged": f"{flagged} of {len(scores)}",
            "min_score": round(min(scores.values()), 4),
        }
        stats = replace(stats, calibration={**stats.calibration, "checked_on": checked})
        record["check"] = {k: round(v, 3) for k, v in sorted(scores.items(), key=lambda kv: kv[1])}
    return stats, record


def card_of(name: str, meta: dict) -> ModelCard:
    figs, evaluation = figures(meta)
    text = CARDS[name]
    return ModelCard(
        summary=text["summary"],
        trained_on=trained_on(meta),
        intended_inputs=text["intended_inputs"],
        limits=tuple(text["limits"]),
        figures=figs,
        evaluation=evaluation,
    )


def _scores(stats, features: dict[str, torch.Tensor]) -> dict[str, float]:
    scorer = DomainScorer(stats)
    return {k: float(scorer(f[None], torch.tensor([f.shape[0]]))[0]) for k, f in features.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="bundles to card (default: every shipped one)")
    parser.add_argument("--train", type=int, default=800, help="training clips to fit on")
    parser.add_argument("--held-out", type=int, default=400, help="held-out clips to set the threshold on")
    parser.add_argument("--check", type=Path, help="a folder of clips to score and record (real footage)")
    parser.add_argument(
        "--keep-stats", action="store_true", help="rewrite the card only, keeping the statistics"
    )
    parser.add_argument(
        "--work", type=Path, help="where to render clips and features (default: a temp folder)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="avseq-cards-") as tmp:
        work = args.work or Path(tmp)
        for name in args.names or list_bundled():
            print(
                json.dumps(card_bundle(name, work, args.train, args.held_out, args.check, args.keep_stats)),
                flush=True,
            )


if __name__ == "__main__":
    main()
