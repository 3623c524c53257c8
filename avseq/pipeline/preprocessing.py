"""Bundles at validation time: read each bundle's JSON (no weights) and reconcile its preprocessing.

A stage that runs a bundle (``encode_frames``/``sound``/``caption`` with ``bundle:``)
takes fps / num_frames from it for the ``decode_video`` stage upstream and
frame_size / frame_transform for the ``frames`` stage upstream. A value the
pipeline file sets itself must agree with the bundle, else ConfigError naming both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from avseq.bundles import read_preprocessing
from avseq.errors import AvseqError, ConfigError

if TYPE_CHECKING:
    from avseq.pipeline.spec import PipelineSpec, StageSpec

# pipeline stage type -> [(params key, preprocessing key)]
RESTATED = {
    "decode_video": [("fps", "fps"), ("num_frames", "num_frames"), ("window", "window")],
    "frames": [("size", "frame_size"), ("transform", "frame_transform")],
}


def resolve_bundles(spec: PipelineSpec, source: str, index: dict[str, int]) -> None:
    """Check every bundle stage against the stages upstream of it and fill what the file left out."""
    filled: dict[tuple[str, str], str] = {}
    for stage in spec.stages:
        name = getattr(stage.params, "bundle", None)
        if name is None:
            continue
        where = f"{source}: stages[{index[stage.id]}].params.bundle"
        try:
            pre = read_preprocessing(name)
        except AvseqError as err:
            raise ConfigError(f"{where}: {err}") from None
        ups = spec.upstream(stage.id)
        _check_feature_source(stage, ups, source, index)
        for up in ups:
            if up.type in RESTATED:
                _reconcile(up, pre, name, stage, f"{source}: stages[{index[up.id]}].params", filled)


def _reconcile(up: StageSpec, pre: Any, bundle: str, user: StageSpec, where: str, filled: dict) -> None:
    params = up.params
    set_keys = params.model_fields_set
    restated = {}
    for key, pre_key in RESTATED[up.type]:
        if key in set_keys:
            value = getattr(params, key)
            restated[pre_key] = list(value) if isinstance(value, tuple) else value
    if up.type == "decode_video" and restated.keys() & {"fps", "num_frames"}:
        restated.setdefault("fps", None)
        restated.setdefault("num_frames", None)
    try:
        pre.check_compatible(restated, source=f"{where} ({up.id})")
    except ConfigError as err:
        origin = {filled[(up.id, k)] for k, _ in RESTATED[up.type] if (up.id, k) in filled}
        note = f" (values taken from bundle {', '.join(sorted(origin))})" if origin else ""
        raise ConfigError(f"{err}{note}; bundle {bundle!r} is used by stage {user.id!r}") from None
    for key, pre_key in RESTATED[up.type]:
        if key not in set_keys and pre_key != "window":
            value = getattr(pre, pre_key)
            setattr(params, key, tuple(value) if isinstance(value, list) else value)
            filled[(up.id, key)] = repr(bundle)


def _check_feature_source(stage: StageSpec, ups: list[StageSpec], source: str, index: dict[str, int]) -> None:
    if stage.type == "encode_frames":
        return
    for up in ups:
        if up.type == "encode_frames" and up.id in stage.input and up.params.bundle != stage.params.bundle:
            used = f"bundle {up.params.bundle!r}" if up.params.bundle else f"encoder {up.params.encoder!r}"
            raise ConfigError(
                f"{source}: stages[{index[stage.id]}].input: {stage.type} stage {stage.id!r} (bundle "
                f"{stage.params.bundle!r}) reads features of {up.id!r} made with {used}; features must come "
                f"from the same bundle, or read frames directly"
            )
