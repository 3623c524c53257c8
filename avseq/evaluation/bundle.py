"""Evaluate a bundle on a split and write ``report.json`` with per-clip outputs beside it.

``evaluate_bundle`` picks the caption (and frame_caption), dense caption, classify or sound
evaluation from the bundle's kind,
scores the model and the baselines on the same clips, and writes:

- ``REPORT`` (e.g. ``report.json``): figures per system side by side, plus context
  (bundle, split, clip counts, tokenizer, notes such as a missing Java);
- ``<report stem>_clips/``: ``captions.jsonl`` (caption), ``events.jsonl`` (dense_caption:
  per clip its reference and predicted events), ``labels.jsonl`` (classify: per example its
  reference and each system's labels) or one WAV per clip and ``clips.jsonl`` with
  per-clip figures (sound).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from avseq.bundles import Bundle, load
from avseq.data.feature_cache import FEATURE_CACHE, FeatureCache, encoder_cache
from avseq.devices import resolve_device
from avseq.errors import ConfigError
from avseq.evaluation.inputs import split_entries, split_manifest, training_manifest
from avseq.io.atomic import write_text_atomic
from avseq.metrics import java_available, meteor_session
from avseq.models.beam import DEFAULT_BEAM_SIZE


def _progress(enabled: bool):
    def wrap(items, desc):
        return tqdm(items, desc=desc, file=sys.stderr, disable=not enabled, leave=False)

    return wrap


def _train_option(meta: dict, key: str, default: Any) -> Any:
    return (meta.get("train_config") or {}).get("train", {}).get(key, default)


def evaluate_bundle(
    bundle_path: str | Path,
    data: str | Path,
    report_path: str | Path = "report.json",
    *,
    split: str = "test",
    train_data: str | Path | None = None,
    limit: int | None = None,
    baseline_clips: int | None = None,
    device: str | torch.device = "auto",
    beam_size: int | None = None,
    rerank: str | None = None,
    baseline_encoder: str | Path | None = None,
    feature_cache: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Score the bundle and its baselines on ``split`` of ``data``; write and return the report.

    beam_size, rerank: caption decoding; None takes the bundle's training settings.
    baseline_encoder: a bundle (path or bundled name) whose encoder, with its own preprocessing,
    picks the nearest-neighbour baselines' training clips; None: the evaluated bundle's.
    feature_cache: a folder where the training clips' features by that encoder are read and
    stored (a training run stores its frozen encoder's there); "auto": :func:`auto_feature_cache`,
    the one the bundle's run kept; None: none.
    device: a resolved ``torch.device``, or a name resolved here (``auto``, ``cpu``, ``cuda:1``).
    """
    dev = device if isinstance(device, torch.device) else resolve_device(device, "device")
    bundle = load(bundle_path, dev)
    retrieval = load(baseline_encoder, dev) if baseline_encoder is not None else None
    manifest = split_manifest(data, split)
    test = split_entries(manifest, split, limit)
    train_manifest = training_manifest(data, manifest, train_data)
    train = split_entries(train_manifest, "train", baseline_clips)
    if feature_cache == "auto":
        feature_cache = auto_feature_cache(bundle.meta, train_manifest)
    report_path = Path(report_path)
    clips_dir = report_path.parent / f"{report_path.stem}_clips"
    clips_dir.mkdir(parents=True, exist_ok=True)
    wrap = _progress(progress)
    report = _context(bundle, retrieval, split, manifest, len(test), len(train))
    cache = _open_cache(feature_cache, retrieval or bundle, dev, report)
    with torch.no_grad(), meteor_session():  # one METEOR start-up for every corpus scored
        systems = _systems(
            bundle, test, train, dev, clips_dir, wrap, report, beam_size=beam_size, rerank=rerank,
            retrieval=retrieval, train_cache=cache,
        )  # fmt: skip
    if cache is not None:
        hits, misses = cache.stats.hits, cache.stats.misses
        report["feature_cache"] = {"folder": str(feature_cache), "hits": hits, "misses": misses}
        report["notes"].append(
            f"training clips' features: {hits} read from {feature_cache}, {misses} computed and stored there"
        )
    report["systems"] = systems
    report["per_clip"] = str(clips_dir)
    write_text_atomic(report_path, json.dumps(report, indent=1))
    return report


def _context(
    bundle: Bundle, retrieval: Bundle | None, split: str, manifest: Path, clips: int, train_clips: int
) -> dict[str, Any]:
    """The report's head: what was evaluated on which clips, and its notes so far."""
    report: dict[str, Any] = {
        "bundle": str(bundle.path), "version": bundle.version, "kind": bundle.kind, "split": split,
        "manifest": str(manifest), "clips": clips, "baseline_train_clips": train_clips, "notes": [],
    }  # fmt: skip
    if retrieval is not None:
        report["baseline_encoder"] = {"bundle": str(retrieval.path), "version": retrieval.version}
        report["notes"].append(f"nearest-neighbour baselines retrieve by {retrieval.path}'s encoder")
    return report


def auto_feature_cache(meta: dict[str, Any], train_manifest: Path) -> Path:
    """The feature cache the bundle's training run kept (``meta["feature_cache"]``) when the
    baselines use that run's training manifest; else ``feature_cache`` beside the manifest, where
    a run on generated splits or ``avseq data`` manifests in their own folder keeps it. A run on
    manifests elsewhere keeps its cache in its own folder (``RUN/data``), not beside them."""
    recorded, trained_on = meta.get("feature_cache"), meta.get("splits", {}).get("train")
    if recorded and trained_on and Path(trained_on).resolve() == train_manifest.resolve():
        return Path(recorded)
    return train_manifest.parent / FEATURE_CACHE


def _open_cache(
    folder: str | Path | None, keys_by: Bundle, dev: torch.device, report: dict
) -> FeatureCache | None:
    """``keys_by``'s encoder feature cache in ``folder`` (None: none); a note when it cannot be made there."""
    if folder is None:
        return None
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return encoder_cache(Path(folder), keys_by.system, keys_by.preprocessing, dev)
    except OSError as err:
        report["notes"].append(f"no feature cache: cannot use {folder} ({err.strerror})")
        return None


def _systems(
    bundle, test, train, dev, clips_dir, wrap, report, *, beam_size, rerank, retrieval, train_cache
) -> dict:
    """The figures per system of the bundle's kind; writes the per-clip rows into ``clips_dir``."""
    if bundle.kind in DECODERS:
        evaluate, rows_file = DECODERS[bundle.kind]
        systems, rows = evaluate(
            bundle, test, train, dev, wrap, report, beam_size=beam_size, rerank=rerank,
            retrieval=retrieval, train_cache=train_cache,
        )  # fmt: skip
        _write_jsonl(clips_dir / rows_file, rows)
    elif bundle.kind == "sound":
        from avseq.evaluation.sound import evaluate_sound

        systems, rows = evaluate_sound(
            bundle, test, train, dev, clips_dir, retrieval=retrieval, train_cache=train_cache, progress=wrap
        )
        _write_jsonl(clips_dir / "clips.jsonl", rows)
    elif bundle.kind == "classify":
        from avseq.evaluation.classify import evaluate_classify

        systems, rows = evaluate_classify(
            bundle, test, train, dev, retrieval=retrieval, train_cache=train_cache, progress=wrap
        )
        report["attributes"] = list(bundle.system.attributes)
        _write_jsonl(clips_dir / "labels.jsonl", rows)
    else:
        raise ConfigError(
            f"{bundle.path}: cannot evaluate a {bundle.kind!r} bundle. "
            f"Supported: {', '.join([*DECODERS, 'sound', 'classify'])}"
        )
    return systems


def _decoding(bundle, report, beam_size, rerank) -> tuple[int, str, int]:
    """(beam size, rerank, max length) of caption decoding: given, else the bundle's training settings."""
    beam = beam_size or _train_option(bundle.meta, "beam_size", DEFAULT_BEAM_SIZE)
    rerank = rerank or _train_option(bundle.meta, "rerank", "score")
    max_len = _train_option(bundle.meta, "max_caption_len", 20)
    report.update(beam_size=beam, rerank=rerank, max_len=max_len)
    if not java_available():
        report["notes"].append("Java not found: METEOR skipped, captions tokenized without PTBTokenizer")
    return beam, rerank, max_len


def _dense(bundle, test, train, dev, wrap, report, *, beam_size, rerank, retrieval, train_cache):
    from avseq.evaluation.dense import evaluate_dense

    beam, rerank, max_len = _decoding(bundle, report, beam_size, rerank)
    return evaluate_dense(
        bundle, test, train, dev, beam_size=beam, max_len=max_len, rerank=rerank, retrieval=retrieval,
        train_cache=train_cache, progress=wrap,
    )  # fmt: skip


def _captions(
    bundle, test, train, dev, wrap, report, *, beam_size, rerank, retrieval, train_cache
) -> tuple[dict, list]:
    from avseq.evaluation.captions import evaluate_captions

    beam, rerank, max_len = _decoding(bundle, report, beam_size, rerank)
    return evaluate_captions(
        bundle, test, train, dev, beam_size=beam, max_len=max_len, rerank=rerank, retrieval=retrieval,
        train_cache=train_cache, progress=wrap,
    )  # fmt: skip


# bundle kind that decodes captions -> its evaluation, and the file of its per-clip rows
DECODERS = {
    "caption": (_captions, "captions.jsonl"),
    "frame_caption": (_captions, "captions.jsonl"),
    "dense_caption": (_dense, "events.jsonl"),
}


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))


HEADLINES = {
    "caption": {
        "BLEU-1": ("BLEU-1",), "BLEU-4": ("BLEU-4",), "METEOR": ("METEOR",), "ROUGE-L": ("ROUGE-L",),
        "CIDEr": ("CIDEr",), "attr_mean": ("attributes", "mean"), "attr_all": ("attributes", "all"),
        "attr_distractor": ("attributes", "distractor"),
    },
    "dense_caption": {
        "F1@0.3": ("tIoU=0.3", "f1"), "F1@0.5": ("tIoU=0.5", "f1"), "F1@0.7": ("tIoU=0.7", "f1"),
        "F1@0.9": ("tIoU=0.9", "f1"), "precision_mean": ("mean", "precision"),
        "recall_mean": ("mean", "recall"), "METEOR@0.5": ("tIoU=0.5", "METEOR"),
        "CIDEr@0.5": ("tIoU=0.5", "CIDEr"), "METEOR_mean": ("mean", "METEOR"),
        "CIDEr_mean": ("mean", "CIDEr"), "events_per_clip": ("events_per_clip",),
    },
    "sound": {
        "onset_f1_frame": ("onset_frame", "f1"), "onset_f1_50ms": ("onset_50ms", "f1"),
        "lsd_db": ("lsd_db",), "mel_l1": ("mel_l1",), "sync_median_abs_ms": ("sync_median_abs_ms",),
    },
}  # fmt: skip


def _lookup(figures: dict[str, Any], path: tuple[str, ...]) -> float | None:
    for key in path:
        if not isinstance(figures, dict) or key not in figures:
            return None
        figures = figures[key]
    return figures


def _headlines(report: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """Label -> where in each system's figures: :data:`HEADLINES` of the report's kind; for
    classify, the mean and each attribute of the bundle's."""
    if report["kind"] == "classify":
        return {"attr_mean": ("mean",), **{a: ("attributes", a) for a in report["attributes"]}}
    kind = "caption" if report["kind"] == "frame_caption" else report["kind"]
    return HEADLINES[kind]


def summary_table(report: dict[str, Any]) -> str:
    """A plain-text side-by-side table of the headline figures per system."""
    systems = report["systems"]
    names = list(systems)
    lines = ["metric".ljust(20) + "".join(n.rjust(19) for n in names)]
    for label, path in _headlines(report).items():
        cells = [_lookup(systems[n], path) for n in names]
        lines.append(label.ljust(20) + "".join(("-" if c is None else f"{c:.4f}").rjust(19) for c in cells))
    return "\n".join(lines)
