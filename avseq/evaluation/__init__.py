"""Evaluation of a trained bundle on a split, against baselines scored the same way.

Public API: ``evaluate_bundle(bundle, data, report_path, ...) -> dict`` (writes ``report.json``
and per-clip outputs beside it) and ``summary_table(report)``; the caption scoring that
training's validation shares, ``score_captions``. Modules: bundle.py (the entry point),
captions.py, dense.py, classify.py and sound.py (one kind each, with their
baselines), inputs.py (splits, training
clips and the nearest-neighbour retrieval features).
"""

from avseq.evaluation.bundle import evaluate_bundle, summary_table
from avseq.evaluation.captions import score_captions

__all__ = ["evaluate_bundle", "score_captions", "summary_table"]
