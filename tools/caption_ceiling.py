"""The CIDEr a perfect captioner can reach on a synthetic test split, for judging caption targets.

A synthetic clip's manifest line says exactly what happens in it (object, action, count,
direction, the floating distractor), so every caption the grammar could write about it is
known. The references are a random draw of those paraphrases. A captioner that perceives
everything still cannot know which paraphrases were drawn; the best it can do is choose, per
clip, the caption with the highest expected CIDEr-D over the grammar's draws (the Bayes-optimal
choice). This prints that choice's CIDEr on the real references, the same when the distractor
is never mentioned, and, given an ``avseq eval`` report of the same split, the model's and the
nearest-neighbour baseline's CIDEr beside them, and where the model loses CIDEr against the
Bayes-optimal choice: per set of attributes its caption gets wrong (``lost_by_miss``, scored clip
by clip as the report's attribute accuracy scores them; the losses add up to the gap).

Document frequencies are those of the split's own references, as pycocoevalcap computes them,
so the figures compare directly with ``avseq eval``'s CIDEr.

Run: ``.venv/bin/python tools/caption_ceiling.py runs/synth_caption_data/test.jsonl
[--report runs/eval/caption/report.json] [--draws 30] [--seed 0]``. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from avseq.data import read_manifest
from avseq.data.synth.captions import DISTRACTOR_SUFFIX, TEMPLATES, make_captions
from avseq.metrics.attributes import attribute_accuracy
from avseq.metrics.captions import simple_tokenize
from avseq.metrics.cider import CiderD


def scene_of(attributes: dict) -> SimpleNamespace:
    """A stand-in for the generator's Scene, enough for :func:`make_captions`."""
    main = SimpleNamespace(**{k: attributes[k] for k in ("colour", "material", "shape")})
    distractor = None
    if attributes.get("distractor"):
        colour, _, shape = attributes["distractor"].split()
        distractor = SimpleNamespace(colour=colour, shape=shape)
    return SimpleNamespace(
        main=main,
        action=attributes["action"],
        direction=attributes.get("direction") or "",
        count=attributes.get("count") or 1,
        distractor=distractor,
    )


def candidates(scene: SimpleNamespace, with_distractor: bool) -> list[str]:
    """Every caption the grammar can write about ``scene`` (each template, with or without the suffix)."""
    every = make_captions(scene, np.random.default_rng(0), len(TEMPLATES[scene.action]))
    plain = sorted({c.split(" while a ")[0] for c in every})
    if not (with_distractor and scene.distractor is not None):
        return plain
    suffix = DISTRACTOR_SUFFIX.format(colour=scene.distractor.colour, shape=scene.distractor.shape)
    return plain + [c + suffix for c in plain]


def bayes_optimal(cider: CiderD, scene, k: int, draws: int, rng, with_distractor: bool) -> list[str]:
    """The candidate with the highest mean CIDEr-D over ``draws`` random reference sets of ``k``."""
    sets = [[simple_tokenize(c).split() for c in make_captions(scene, rng, k)] for _ in range(draws)]
    vectors = [[cider.vector(r) for r in refs] for refs in sets]
    options = candidates(scene, with_distractor)
    expected = [np.mean([cider.score(simple_tokenize(c).split(), v) for v in vectors]) for c in options]
    return options[int(np.argmax(expected))]


def lost_by_miss(
    cider: CiderD,
    entries: list,
    refs: dict[str, list],
    predictions: dict[str, str],
    optimal: dict[str, float],
) -> dict[str, dict]:
    """CIDEr-D lost against the Bayes-optimal captions, grouped by the attributes each clip's
    prediction gets wrong ("count+distractor", "none"), as a share of the mean over the clips: the
    groups add up to mean optimal minus mean model. optimal: clip id -> the Bayes-optimal caption's
    score; refs: clip id -> tokenized references; predictions: clip id -> the model's caption."""
    groups: dict[str, list[float]] = {}
    scored = [e for e in entries if e.id in predictions]
    for e in scored:
        caption = predictions[e.id]
        hits = attribute_accuracy([e.attributes], [caption], [e.captions])
        missed = "+".join(n for n, v in hits.items() if n not in ("mean", "all") and v < 1) or "none"
        score = cider.score(simple_tokenize(caption).split(), refs[e.id])
        groups.setdefault(missed, []).append(optimal[e.id] - score)
    ranked = sorted(groups.items(), key=lambda kv: -sum(kv[1]))
    return {k: {"clips": len(v), "cider_lost": round(sum(v) / len(scored), 3)} for k, v in ranked}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", help="a synthetic split's manifest (test.jsonl)")
    parser.add_argument("--report", help="an avseq eval report of the same split, for the model and baseline")
    parser.add_argument("--draws", type=int, default=30, help="reference sets drawn per clip (default 30)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    entries = [e for e in read_manifest(args.manifest) if e.attributes]
    if not entries:
        raise SystemExit(f"{args.manifest}: no clips with attributes (not a synthetic split)")
    refs = {e.id: [simple_tokenize(c).split() for c in e.captions] for e in entries}
    cider = CiderD(refs.values())
    rng = np.random.default_rng(args.seed)
    out: dict = {"clips": len(entries), "draws": args.draws}
    optimal: dict[str, float] = {}
    for key, with_distractor in (("bayes_optimal", True), ("bayes_optimal_without_distractor", False)):
        scores = []
        for e in entries:
            scene, k = scene_of(e.attributes), len(e.captions)
            best = bayes_optimal(cider, scene, k, args.draws, rng, with_distractor)
            scores.append(cider.score(simple_tokenize(best).split(), refs[e.id]))
        if with_distractor:
            optimal = {e.id: s for e, s in zip(entries, scores, strict=True)}
        out[key] = round(float(np.mean(scores)), 3)
    if args.report:
        report = json.loads(Path(args.report).read_text())
        systems = report["systems"]
        model, nn = systems["model"]["CIDEr"], systems["nearest_neighbour"]["CIDEr"]
        out.update(model=round(model, 3), nearest_neighbour=round(nn, 3), model_ratio=round(model / nn, 3))
        out["bayes_optimal_ratio"] = round(out["bayes_optimal"] / nn, 3)
        out["without_distractor_ratio"] = round(out["bayes_optimal_without_distractor"] / nn, 3)
        captions = Path(report["per_clip"]) / "captions.jsonl" if report.get("per_clip") else None
        if captions is not None and captions.is_file():
            rows = [json.loads(line) for line in captions.read_text().splitlines() if line.strip()]
            predictions = {r["id"]: r["model"] for r in rows}
            out["lost_by_miss"] = lost_by_miss(cider, entries, refs, predictions, optimal)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
