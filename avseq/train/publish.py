"""Copy a trained bundle to where it ships, with its evaluation figures in ``bundle.json`` meta.

The shipped bundle keeps the training meta (config, seed, splits, validation figures)
and gains ``eval`` (the report of ``avseq eval`` on held-out clips) and ``reproduce``
(the commands that remake it).
"""

from __future__ import annotations

import json
from pathlib import Path

from avseq.bundles import load, save_bundle
from avseq.errors import ConfigError

# what of the report a shipped bundle keeps: the figures and what they depend on
EVAL_KEYS = (
    "split", "clips", "manifest", "baseline_train_clips", "beam_size", "rerank", "max_len", "systems",
    "notes", "baseline_encoder",
)  # fmt: skip


def publish_bundle(
    source: str | Path, destination: str | Path, report: str | Path, reproduce: list[str], name: str
) -> Path:
    """Re-save the bundle at ``source`` into ``destination`` (replacing it) with eval meta added."""
    report = Path(report)
    if not report.is_file():
        raise ConfigError(f"{report}: no evaluation report; run `avseq eval` first")
    figures = json.loads(report.read_text())
    bundle = load(source)
    meta = {
        **bundle.meta,
        "eval": {k: figures[k] for k in EVAL_KEYS if k in figures},
        "reproduce": reproduce,
    }
    return save_bundle(
        destination, bundle.system, bundle.preprocessing, tokenizer=bundle.tokenizer, meta=meta,
        name=name, overwrite=True,
    )  # fmt: skip
