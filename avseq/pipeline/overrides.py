"""``--set KEY=VALUE`` overrides applied to a raw pipeline mapping before validation.

``stages.<id>.<field>[.<key>...]=VALUE`` addresses a stage by its id;
``batch_size=4`` or ``limits.max_duration=60`` a top-level key. Values are
parsed as YAML scalars (``5`` -> int, ``true`` -> bool, ``[1, 2]`` -> list).
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from avseq.errors import ConfigError, short_repr

STAGE_KEYS = ("type", "params", "input", "device")


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"a.b=3"`` -> ``(["a", "b"], 3)``; ConfigError when there is no ``=`` or no key."""
    key, sep, value = text.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. stages.caption.params.beam_size=5")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return parts, parsed


def apply_overrides(raw: dict, overrides: list[str], source: str, top_level: tuple[str, ...]) -> dict:
    """A copy of ``raw`` with each override applied; a bad key path raises ConfigError."""
    raw = copy.deepcopy(raw)
    for text in overrides:
        parts, value = parse_override(text)
        head = parts[0]
        if head not in top_level:
            raise ConfigError(f"--set {text!r}: unknown key {head!r}; allowed: {', '.join(top_level)}")
        if head == "stages":
            _set_stage(raw, parts[1:], value, text, source)
        else:
            _set_path(raw, parts, value, text)
    return raw


def _set_stage(raw: dict, parts: list[str], value: Any, text: str, source: str) -> None:
    stages = raw.get("stages")
    ids = [s.get("id") for s in stages if isinstance(s, dict)] if isinstance(stages, list) else []
    if len(parts) < 2:
        raise ConfigError(f"--set {text!r}: address a stage field as stages.<id>.<field>=VALUE")
    if parts[0] not in ids:
        raise ConfigError(f"--set {text!r}: {source} has no stage {parts[0]!r}; stages: {', '.join(ids)}")
    if parts[1] not in STAGE_KEYS:
        raise ConfigError(f"--set {text!r}: unknown stage key {parts[1]!r}; allowed: {', '.join(STAGE_KEYS)}")
    stage = stages[ids.index(parts[0])]
    if parts[1] == "params" and not isinstance(stage.get("params"), dict):
        stage["params"] = {}
    _set_path(stage, parts[1:], value, text)


def _set_path(node: dict, parts: list[str], value: Any, text: str) -> None:
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {text!r}: {part!r} holds {short_repr(child)}, not a mapping")
        node = child
    node[parts[-1]] = value
