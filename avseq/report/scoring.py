"""Score a finished run against references, for the report.

When the right answers are known (the synthetic world's captions, original
sound and impact times), :func:`score_run` adds to each matching line of
``results.jsonl`` the fields ``references``, ``reference_audio`` and
``metrics`` (per clip), and the corpus-level scores to ``summary.json`` under
``scores``. The run's other fields are kept as they are; files are rewritten
atomically.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from avseq.io.atomic import write_text_atomic
from avseq.report.records import read_lines, read_summary
from avseq.report.spectrograms import load_mono

ONSET_TOLERANCE = 0.1  # seconds: an impact heard within 100 ms of the true one counts
CLIP_CAPTION_METRICS = ("BLEU-4", "ROUGE-L")
# METEOR is left out: its Java start-up alone takes 10-20 s on a small CPU (`avseq eval` has it)
CORPUS_CAPTION_METRICS = ("BLEU-1", "BLEU-4", "ROUGE-L", "CIDEr")


@dataclass(frozen=True)
class Reference:
    """What a clip should have produced.

    captions: reference captions; audio: a file holding the original sound;
    onsets: true sounding times in seconds (else detected in ``audio``);
    attributes: the synthetic world's labels (colour, shape, material, ...).
    """

    captions: tuple[str, ...] = ()
    audio: Path | None = None
    onsets: tuple[float, ...] | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


def references_from_manifest(entries: list) -> dict[Path, Reference]:
    """References keyed by resolved media path, from :class:`avseq.data.ManifestEntry` records."""
    return {
        Path(e.path).resolve(): Reference(
            tuple(e.captions), Path(e.path), tuple(e.onsets) or None, dict(e.attributes)
        )
        for e in entries
    }


def score_run(outdir: str | Path, references: Mapping[str, Reference]) -> dict[str, Any]:
    """Annotate ``outdir/results.jsonl`` lines whose id is in ``references``; return corpus scores.

    Corpus scores: caption metrics over all ok clips with references
    (:data:`CORPUS_CAPTION_METRICS`, PTB tokenizer when Java is present), attribute
    accuracy, and onset F1 (micro).
    """
    outdir = Path(outdir)
    path = outdir / "results.jsonl"
    lines = [raw for _, raw in read_lines(path)]
    scored = []
    for rec in lines:
        ref = references.get(rec.get("id"))
        if ref is None or rec.get("status") == "failed":
            continue
        rec["references"] = list(ref.captions)
        rec["reference_audio"] = str(ref.audio) if ref.audio else None
        rec["metrics"], onsets = clip_metrics(outdir, rec, ref)
        scored.append((rec, ref, onsets))
    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines))
    scores = corpus_metrics(scored)
    _add_to_summary(outdir, scores)
    return scores


def _add_to_summary(outdir: Path, scores: dict[str, Any]) -> None:
    """Store the corpus scores under ``"scores"`` in summary.json (other keys untouched)."""
    summary = read_summary(outdir)
    summary["scores"] = scores
    write_text_atomic(outdir / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")


def clip_metrics(outdir: Path, rec: dict, ref: Reference) -> tuple[dict[str, float], Any]:
    """Per-clip caption and sound scores; also returns the clip's OnsetScores (or None)."""
    metrics: dict[str, float] = {}
    caption = (rec.get("captions") or [None])[0]
    if caption and ref.captions:
        scores = _caption_scores({"c": list(ref.captions)}, {"c": caption}, CLIP_CAPTION_METRICS, "simple")
        metrics.update({k: float(v) for k, v in scores.items() if isinstance(v, float)})
    sound = _output(outdir, rec, "sound_wav")
    onsets = None
    if sound is not None:
        onsets = _sound_metrics(sound, ref, metrics)
    return metrics, onsets


def _sound_metrics(sound: Path, ref: Reference, metrics: dict[str, float]):
    """Onset F1 / sync offset / log-spectral distance of the generated sound; returns OnsetScores."""
    from avseq.metrics import detect_onsets, log_spectral_distance, onset_f1, sync_offset

    generated, rate = load_mono(sound) or (np.zeros(0, np.float32), 16000)
    original = _load_at(ref.audio, rate) if ref.audio else None
    true_onsets = ref.onsets
    if true_onsets is None and original is not None:
        true_onsets = tuple(detect_onsets(original, rate))
    scores = None
    if true_onsets is not None:
        scores = onset_f1(true_onsets, detect_onsets(generated, rate), ONSET_TOLERANCE)
        metrics["onset F1"] = scores.f1
    if original is not None and min(len(original), len(generated)) > rate // 4:
        metrics["sync offset (s)"] = sync_offset(generated, original, rate)
        metrics["LSD (dB)"] = log_spectral_distance(generated, original)
    return scores


def _load_at(path: Path, rate: int) -> np.ndarray | None:
    audio = load_mono(path) if path.is_file() else None
    if audio is None:
        return None
    wave, sr = audio
    if sr != rate:
        import torch
        import torchaudio

        wave = torchaudio.functional.resample(torch.from_numpy(wave), sr, rate).numpy()
    return wave


def _output(outdir: Path, rec: dict, key: str) -> Path | None:
    rel = (rec.get("outputs") or {}).get(key)
    return outdir / rel if rel and (outdir / rel).is_file() else None


def _caption_scores(refs: dict, predictions: dict, metrics: tuple[str, ...], tokenizer: str) -> dict:
    """:func:`avseq.metrics.caption_scores`, or a note when its tools are not installed."""
    from avseq.metrics import caption_scores
    from avseq.metrics.captions import MetricsUnavailableError

    try:
        return caption_scores(refs, predictions, metrics, tokenizer)
    except MetricsUnavailableError as err:
        return {"caption metrics": f"unavailable: {err}"}


def corpus_metrics(scored: list[tuple[dict, Reference, Any]]) -> dict[str, Any]:
    """Caption metrics, attribute accuracy and micro onset F1 over the scored clips."""
    from avseq.metrics import OnsetScores, attribute_accuracy

    out: dict[str, Any] = {"clips scored": len(scored)}
    captioned = [(r, ref) for r, ref, _ in scored if r.get("captions") and ref.captions]
    if captioned:
        refs = {r["id"]: list(ref.captions) for r, ref in captioned}
        predictions = {r["id"]: r["captions"][0] for r, _ in captioned}
        out.update(_caption_scores(refs, predictions, CORPUS_CAPTION_METRICS, "auto"))
        with_attrs = [(r, ref) for r, ref in captioned if ref.attributes]
        if with_attrs:
            acc = attribute_accuracy(
                [ref.attributes for _, ref in with_attrs],
                [r["captions"][0] for r, _ in with_attrs],
                [list(ref.captions) for _, ref in with_attrs],
            )
            out["attribute accuracy"] = acc.get("mean")  # mean over colour, shape, material, ...
            out["all attributes right"] = acc.get("all")  # fraction of clips
    onsets = [o for _, _, o in scored if o is not None]
    if onsets:
        out["onset F1"] = OnsetScores.total(onsets).f1
    return out
