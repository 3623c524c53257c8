"""The one configuration mechanism: safe YAML -> ``--set`` overrides -> pydantic -> one error line.

Pipeline files (:mod:`avseq.pipeline.loading`) and training configs
(:mod:`avseq.train.config`) both go through here:

- :func:`read_yaml` reads a file with the safe loader (no tags, so a file never runs code);
- :func:`apply_overrides` sets ``KEY=VALUE`` strings (``optim.lr=3e-4``) on the raw
  mapping; values are parsed as YAML scalars (``5`` -> int, ``true`` -> bool, ``[1, 2]`` ->
  list) and a caller may address part of the mapping its own way (a pipeline's
  ``stages.<id>.params.<key>`` picks a stage by id);
- :func:`validate` checks the mapping against a pydantic model and raises one
  :class:`~avseq.errors.ConfigError` naming the file and EVERY problem, each with its key
  path, what is wrong and the bad value or what is allowed:
  ``p.yaml: stages[2].params.beam_size: Input should be greater than or equal to 1 (got 0);
  batchsize: unknown key; allowed: version, device, ...``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from avseq.errors import ConfigError, short_repr

M = TypeVar("M", bound=BaseModel)
# (raw, parts after the head, the override's text) -> (the mapping to set in, the parts left)
Address = Callable[[dict, list[str], str], tuple[dict, list[str]]]

_TAG = re.compile(r"function-\w+|\w+\[.*\]|literal\[.*\]")  # pydantic's validator / union steps


def read_yaml(path: str | Path, what: str = "config") -> Any:
    """The document in ``path``, read with the safe loader; ConfigError names the file and cause."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read {what} ({err.__class__.__name__}: {err})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{line}: {problem}") from None


def parse_override(text: str, example: str = "train.steps=100") -> tuple[list[str], Any]:
    """``"a.b=3"`` -> ``(["a", "b"], 3)``; ConfigError when there is no ``=`` or an empty key."""
    key, sep, value = text.partition("=")
    parts = key.strip().split(".")
    if not sep or not all(parts):
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. {example}")
    try:
        return parts, yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        return parts, value


def apply_overrides(
    raw: dict,
    overrides: list[str],
    top_level: tuple[str, ...],
    *,
    example: str = "train.steps=100",
    address: Mapping[str, Address] | None = None,
) -> dict:
    """A copy of ``raw`` with each ``KEY=VALUE`` of ``overrides`` set.

    top_level: the keys a path may start with. address: for some of them, how the rest of the
    path picks the mapping to set in (e.g. a stage by id). Missing intermediate mappings are
    created; a path through a scalar, an unknown first key or a malformed override raises
    ConfigError naming the override.
    """
    raw = copy.deepcopy(raw)
    for text in overrides:
        parts, value = parse_override(text, example)
        if parts[0] not in top_level:
            raise ConfigError(f"--set {text!r}: unknown key {parts[0]!r}; allowed: {', '.join(top_level)}")
        node, rest = raw, parts
        if address and parts[0] in address:
            node, rest = address[parts[0]](raw, parts[1:], text)
        _set_path(node, rest, value, text, parts[: len(parts) - len(rest)])
    return raw


def _set_path(node: dict, parts: list[str], value: Any, text: str, above: list[str]) -> None:
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            where = ".".join([*above, *parts[: i + 1]])
            raise ConfigError(f"--set {text!r}: {where} is {short_repr(child)}, not a mapping")
        node = child
    node[parts[-1]] = value


def validate(
    model: type[M], raw: Any, source: str, *, prefix: str = "", moved: Mapping[str, str] | None = None
) -> M:
    """``model.model_validate(raw)``; ConfigError ``"{source}: problem; problem"`` listing all."""
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(f"{source}: {'; '.join(problems(err, model, prefix, moved))}") from None


def problems(
    err: ValidationError, model: type[BaseModel], prefix: str = "", moved: Mapping[str, str] | None = None
) -> list[str]:
    """One line per problem of ``err`` (raised validating ``model``): key path, what, value.

    prefix: the key path of ``model`` inside the whole file (``stages[2].params``).
    moved: key path -> where that key lives now, told instead of the allowed keys.
    """
    found = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not _TAG.fullmatch(str(p)))
        where = key_path(loc, prefix)
        if e["type"] == "extra_forbidden":
            hint = f"it is now {moved[where]}" if moved and where in moved else _allowed(model, loc[:-1])
            found.append(f"{where}: unknown key" + (f"; {hint}" if hint else ""))
        elif e["type"] == "missing":
            found.append(f"{where}: required key is missing")
        else:
            found.append(f"{where}: {_what(e)}")
    return list(dict.fromkeys(found))


def key_path(loc: tuple, prefix: str = "") -> str:
    """``('stages', 2, 'params')`` -> ``stages[2].params``; ``()`` -> ``(top level)``."""
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _what(e: Mapping[str, Any]) -> str:
    """The message, and the bad value unless the message quotes it or it is a whole section."""
    msg = e["msg"].removeprefix("Value error, ")
    value, shown = e.get("input"), short_repr(e.get("input"))
    quoted = isinstance(value, str) and shown in msg
    if quoted or (e["type"] == "value_error" and isinstance(value, Mapping)):
        return msg
    return f"{msg} (got {shown})"


def _allowed(model: type[BaseModel], loc: tuple) -> str:
    """``allowed: a, b`` for the model at ``loc`` inside ``model``; '' where none is found."""
    node: Any = model
    for part in loc:
        node = _child(node, part)
    found = _models(node)
    if not found:
        return ""
    return "allowed: " + ", ".join(k for k, f in found[0].model_fields.items() if f.exclude is not True)


def _child(annotation: Any, part: Any) -> Any:
    """The annotation one step (a field name, a list index or a mapping key) inside ``annotation``."""
    for option in _options(annotation):
        if isinstance(option, type) and issubclass(option, BaseModel):
            if isinstance(part, str) and part in option.model_fields:
                return option.model_fields[part].annotation
        elif get_origin(option) in (dict, Mapping):
            return get_args(option)[-1]
        elif get_origin(option) in (list, tuple) and isinstance(part, int) and get_args(option):
            return get_args(option)[0]
    return None


def _options(annotation: Any) -> tuple:
    """``A | B | None`` -> ``(A, B, None)``; ``Annotated[A, ...]`` -> ``(A,)``; else ``(A,)``."""
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        return tuple(o for a in get_args(annotation) for o in _options(a))
    if origin is Annotated:
        return _options(get_args(annotation)[0])
    return (annotation,)


def _models(annotation: Any) -> list[type[BaseModel]]:
    return [o for o in _options(annotation) if isinstance(o, type) and issubclass(o, BaseModel)]
