"""Validation during training: the loss on held-out clips plus the task metric.

- caption: beam-search captions scored with BLEU-4 and CIDEr (and attribute
  accuracy when the manifest carries attributes), as ``avseq eval`` scores them
  (:func:`avseq.evaluation.captions.score_captions`);
- sound: onset F1 within one video frame of onsets picked from the predicted
  log-mel against the manifest's event times (or the target log-mel's onsets),
  cheap because no vocoder runs;
- dense_caption: the proposed events, captioned, against the manifest's events: precision,
  recall and F1 of their spans at tIoU 0.5 and the CIDEr of the spans matched there
  (:mod:`avseq.metrics.dense`);
- classify: each attribute's accuracy (``acc/<attribute>``) and their mean, ``attr_acc``
  (examples whose value the training clips never gave an attribute count as wrong).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Dataset

from avseq.data.collate import CaptionBatch, ClassifyBatch, DenseCaptionBatch, SoundBatch
from avseq.data.datasets import IGNORE_LABEL
from avseq.evaluation.captions import score_captions
from avseq.metrics import OnsetScores, onset_f1
from avseq.metrics.audio import onsets_from_log_mel
from avseq.metrics.dense import dense_caption_scores
from avseq.models import Tokenizer
from avseq.models.beam import DEFAULT_BEAM_SIZE
from avseq.models.proposals import span_seconds
from avseq.train.config import CLIP_CAPTION_KINDS
from avseq.train.data import eval_batches, loader
from avseq.train.steps import LossOptions, autocast, batch_loss, features_of

HIGHER_IS_BETTER = {
    "BLEU-4": True, "CIDEr": True, "onset_f1": True, "event_f1": True, "attr_acc": True, "val_loss": False,
}  # fmt: skip


def is_better(metric: str, value: float, best: float | None) -> bool:
    """Whether ``value`` of ``metric`` beats ``best`` (None = nothing yet)."""
    if best is None:
        return True
    return value > best if HIGHER_IS_BETTER[metric] else value < best


@torch.no_grad()
def validate(
    system: nn.Module,
    dataset: Dataset,
    kind: str,
    *,
    batch_size: int,
    device: torch.device,
    bf16: bool = False,
    options: LossOptions = LossOptions(),
    tokenizer: Tokenizer | None = None,
    beam_size: int = DEFAULT_BEAM_SIZE,
    max_len: int = 20,
    rerank: str = "score",
    tolerance: float = 1 / 15,
) -> dict[str, float]:
    """``{"val_loss": ..., <metrics>}`` over every item of ``dataset`` (in order).

    tolerance: seconds an onset may be off (one video frame) for the sound metric.
    """
    system.eval()
    pad = tokenizer.pad_id if tokenizer is not None else 0
    batches = loader(dataset, eval_batches(len(dataset), batch_size), kind, 0, seed=0, pad_id=pad)
    total, count = 0.0, 0
    state: dict = {"refs": {}, "preds": {}, "attrs": [], "onsets": OnsetScores(0, 0, 0), "correct": {}}
    state["fps"] = dataset.preprocessing.fps
    entries = {dataset.entry(i).id: dataset.entry(i) for i in range(len(dataset))}
    for batch in batches:
        batch = batch.to(device)
        with autocast(device, bf16):
            total += float(batch_loss(system, batch, options)) * len(batch.ids)
        count += len(batch.ids)
        if kind in CLIP_CAPTION_KINDS:
            _caption_batch(
                system, batch, tokenizer, state, beam_size=beam_size, max_len=max_len, rerank=rerank
            )
        elif kind == "dense_caption":
            _dense_batch(system, batch, tokenizer, state, beam_size=beam_size, max_len=max_len, rerank=rerank)
        elif kind == "classify":
            _classify_batch(system, batch, state)
        else:
            _sound_batch(system, batch, entries, tolerance, state)
    out = {"val_loss": total / count}
    if kind in CLIP_CAPTION_KINDS:
        out.update(_caption_metrics(state, entries))
    elif kind == "dense_caption":
        out.update(_dense_metrics(state))
    elif kind == "classify":
        out.update(classify_metrics(state["correct"], count))
    else:
        out.update({f"onset_{k}": v for k, v in state["onsets"].as_dict().items()})
    return out


def _caption_batch(system, batch: CaptionBatch, tokenizer, state, **decoding) -> None:
    feats, lengths = features_of(system, batch)
    hyps = system.generate_from_features(feats, lengths, **decoding)
    for clip_id, refs, best in zip(batch.ids, batch.references, hyps, strict=True):
        state["refs"][clip_id] = list(refs)
        state["preds"][clip_id] = tokenizer.decode(best[0].tokens)


def _caption_metrics(state: dict, entries: dict) -> dict[str, float]:
    scored = [entries[i] for i in state["preds"]]
    scores = score_captions(state["refs"], state["preds"], scored, metrics=["BLEU-4", "CIDEr"])
    attributes = scores.pop("attributes", None)
    out = {k: float(v) for k, v in scores.items() if k != "tokenizer"}
    if attributes is not None:
        out["attr_acc"] = attributes["all"]
    return out


def _dense_batch(system, batch: DenseCaptionBatch, tokenizer, state, **decoding) -> None:
    """Each clip's proposed events, captioned, and its reference events, both timed in seconds."""
    feats, lengths = features_of(system, batch)
    fps = state["fps"]
    for clip_id, events, refs in zip(
        batch.ids, system.caption_events_from_features(feats, lengths, **decoding), batch.events, strict=True
    ):
        state["preds"][clip_id] = [
            (*span_seconds(span, fps), tokenizer.decode(hyps[0].tokens)) for span, hyps in events
        ]
        state["refs"][clip_id] = [(start, end, captions[0]) for start, end, captions in refs]


def _dense_metrics(state: dict) -> dict[str, float]:
    """Event precision / recall / F1 at tIoU 0.5 and the CIDEr of the events matched there."""
    scores = dense_caption_scores(state["preds"], state["refs"], thresholds=(0.5,), metrics=("CIDEr",))
    at = scores["tIoU=0.5"]
    names = {"event_precision": "precision", "event_recall": "recall", "event_f1": "f1", "CIDEr": "CIDEr"}
    return {column: at[key] for column, key in names.items()}


def _classify_batch(system, batch: ClassifyBatch, state: dict) -> None:
    """Count each attribute's correct top-1 predictions."""
    feats, lengths = features_of(system, batch)
    logits = system.attribute_logits(feats, lengths)
    for name, column in zip(logits, batch.labels.unbind(1), strict=True):
        right = (logits[name].argmax(-1) == column) & (column != IGNORE_LABEL)
        state["correct"][name] = state["correct"].get(name, 0) + int(right.sum())


def classify_metrics(correct: dict[str, int], count: int) -> dict[str, float]:
    """``attr_acc``, the mean over attributes of each one's accuracy, and ``acc/<attribute>``."""
    accuracies = {f"acc/{name}": n / max(count, 1) for name, n in correct.items()}
    return {"attr_acc": sum(accuracies.values()) / max(len(accuracies), 1), **accuracies}


def _sound_batch(system, batch: SoundBatch, entries: dict, tolerance: float, state: dict) -> None:
    feats, lengths = features_of(system, batch)
    target = batch.target
    pred, _ = system.from_features(feats, lengths, target.lengths)
    for i, clip_id in enumerate(batch.ids):
        n = int(target.lengths[i])
        est = onsets_from_log_mel(pred[i, :, :n], target.frame_rate)
        entry = entries[clip_id]
        if entry.events:
            ref = entry.onsets  # every sound of every event (a level-2 event holds several)
        else:
            ref = onsets_from_log_mel(target.data[i, :, :n], target.frame_rate).tolist()
        state["onsets"] = state["onsets"] + onset_f1(ref, est, tolerance)
