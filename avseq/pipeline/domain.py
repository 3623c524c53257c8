"""The domain check of a run: is each input like the clips its bundles were trained on?

A bundle whose bundle.json carries ``feature_stats`` (:class:`~avseq.bundles.card.FeatureStats`)
is watched: a forward hook on its frame encoder scores the features that every batch computes
anyway, in the main process, with no second pass of the encoder, whichever stage runs it
(``encode_frames``, ``sound`` or ``caption``). :func:`~avseq.pipeline.batching.run_batch` takes
the scores of each batch per window (:meth:`DomainWatch.take`); finalize turns a file's windows
into the fields of its results line (:func:`file_domain`); the run summary counts the inputs
in and out of the domain (:func:`domain_counts`), and ``avseq run`` warns once when any is out.

In results.jsonl, ``domain_scores`` gives per bundle the clip's score divided by that bundle's
threshold (a mean over the file's frames), ``domain_score`` the largest of them and ``domain``
``out`` when that is above 1, else ``in``; all three are null / empty when no bundle of the run
has statistics. Nothing here imports torch until a bundle is watched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DomainScore:
    """One window's score by one bundle's statistics: raw score, its threshold, the frames scored."""

    bundle: str
    score: float
    threshold: float
    frames: int


class DomainWatch:
    """Scores, batch by batch, the features of every watched bundle's encoder (one per run)."""

    def __init__(self) -> None:
        self._batch: dict[str, tuple[float, Any, Any]] = {}
        self._hooks: list[Any] = []

    def watch(self, bundle: Any) -> None:
        """Score whatever ``bundle``'s encoder computes from now on (nothing without statistics)."""
        stats, encoder = bundle.feature_stats, getattr(bundle.system, "encoder", None)
        if stats is None or encoder is None:
            return
        from avseq.bundles.domain import DomainScorer

        scorer, name = DomainScorer(stats), bundle.name

        def after_encoder(module: Any, args: tuple, kwargs: dict, features: Any) -> None:
            lengths = args[1] if len(args) > 1 else kwargs.get("lengths")
            if lengths is not None and features.dim() == 3:
                scores = scorer(features.detach(), lengths)
                self._batch[name] = (stats.threshold, scores.cpu(), lengths.detach().cpu())

        self._hooks.append(encoder.register_forward_hook(after_encoder, with_kwargs=True))

    def begin(self) -> None:
        """Forget the scores of an earlier batch (call before running one)."""
        self._batch.clear()

    def take(self, n: int) -> list[list[DomainScore]]:
        """The scores of the batch just run, one list per window (``n`` windows; bundles by name)."""
        found: list[list[DomainScore]] = [[] for _ in range(n)]
        for name, (threshold, scores, lengths) in sorted(self._batch.items()):
            if scores.shape[0] != n:  # the encoder ran on part of the batch only: no score per window
                continue
            for i in range(n):
                if int(lengths[i]) > 0:
                    found[i].append(DomainScore(name, float(scores[i]), threshold, int(lengths[i])))
        self._batch.clear()
        return found


def file_domain(windows: Iterable[list[DomainScore]]) -> dict[str, Any]:
    """A file's results fields from its windows' scores: per bundle the frame-weighted mean score
    over its threshold, the largest of them, and ``out`` when that is above 1 (empty: unchecked)."""
    weighted: dict[str, float] = {}
    frames: dict[str, int] = {}
    thresholds: dict[str, float] = {}
    for scores in windows:
        for s in scores:
            weighted[s.bundle] = weighted.get(s.bundle, 0.0) + s.score * s.frames
            frames[s.bundle] = frames.get(s.bundle, 0) + s.frames
            thresholds[s.bundle] = s.threshold
    ratios = {b: round(weighted[b] / frames[b] / thresholds[b], 4) for b in sorted(frames) if frames[b]}
    if not ratios:
        return {}
    score = max(ratios.values())
    return {"domain": "out" if score > 1 else "in", "domain_score": score, "domain_scores": ratios}


def domain_counts(results: Iterable[Any]) -> dict[str, Any] | None:
    """For summary.json: inputs in and out of the domain, and the bundles that flagged any (None
    when no result was checked)."""
    checked = [r for r in results if r.domain in ("in", "out")]
    if not checked:
        return None
    out = [r for r in checked if r.domain == "out"]
    flagged = sorted({b for r in out for b, ratio in r.domain_scores.items() if ratio > 1})
    return {"in": len(checked) - len(out), "out": len(out), "flagged_by": flagged}


def domain_warning(counts: dict[str, Any] | None) -> str | None:
    """The one line ``avseq run`` prints on stderr when inputs were out of the domain, else None."""
    if not counts or not counts.get("out"):
        return None
    out, checked = counts["out"], counts["out"] + counts["in"]
    names = counts.get("flagged_by") or []
    bundles = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 2 else names) or "the bundles"
    verb, them = ("is", "it") if out == 1 else ("are", "them")
    trained = "were" if len(names) != 1 else "was"
    return (
        f"{out} of {checked} inputs {verb} out of domain: far from the clips {bundles} {trained} trained "
        f"on, so the outputs say little about {them} (domain: out in results.jsonl; `avseq bundles` "
        f"shows what each model knows)"
    )
