"""``--set KEY=VALUE`` on a pipeline: the generic overrides of :mod:`avseq.config`, plus stages by id.

``stages.<id>.<field>[.<key>...]=VALUE`` addresses a stage by its id;
``batch_size=4`` or ``limits.max_duration=60`` a top-level key. Values are
parsed as YAML scalars (``5`` -> int, ``true`` -> bool, ``[1, 2]`` -> list).
"""

from __future__ import annotations

from functools import partial

from avseq import config
from avseq.errors import ConfigError

STAGE_KEYS = ("type", "params", "input", "device")
EXAMPLE = "stages.caption.params.beam_size=5"


def apply_overrides(raw: dict, overrides: list[str], source: str, top_level: tuple[str, ...]) -> dict:
    """A copy of ``raw`` with each override applied; a bad key path raises ConfigError."""
    stages = {"stages": partial(_stage, source=source)}
    return config.apply_overrides(raw, overrides, top_level, example=EXAMPLE, address=stages)


def _stage(raw: dict, parts: list[str], text: str, source: str) -> tuple[dict, list[str]]:
    """The stage mapping ``parts[0]`` names by id, and the path inside it (``params.fps``)."""
    stages = raw.get("stages")
    ids = [s.get("id") for s in stages if isinstance(s, dict)] if isinstance(stages, list) else []
    if len(parts) < 2:
        raise ConfigError(f"--set {text!r}: address a stage field as stages.<id>.<field>=VALUE")
    if parts[0] not in ids:
        known = ", ".join(map(str, ids))
        raise ConfigError(f"--set {text!r}: {source} has no stage {parts[0]!r}; stages: {known}")
    if parts[1] not in STAGE_KEYS:
        raise ConfigError(f"--set {text!r}: unknown stage key {parts[1]!r}; allowed: {', '.join(STAGE_KEYS)}")
    stage = stages[ids.index(parts[0])]
    if parts[1] == "params" and not isinstance(stage.get("params"), dict):
        stage["params"] = {}
    return stage, parts[1:]
