"""Bundles at validation time: read each bundle's JSON (no weights) and reconcile its preprocessing.

A stage that runs a bundle (``encode_frames``/``sound``/``caption`` with ``bundle:``)
takes frame_size / frame_transform from it for the ``frames`` stage upstream. Its
sampling goes to the ``decode_video`` stage upstream (num_frames, or fps when no
``frames`` stage stands between them); with a ``frames`` stage in between, the
bundle's fps goes to that stage, which picks frames by timestamp from the decode,
and the decode samples at the highest fps its branches need. So one decode pass
can feed bundles trained at different frame rates (exact when the decode rate is
a multiple of each branch's rate). A value the pipeline file sets itself must
agree with the bundle, else ConfigError naming both.
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
    "frames": [("size", "frame_size"), ("transform", "frame_transform"), ("fps", "fps")],
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
        via_frames = pre.fps is not None and any(up.type == "frames" for up in ups)
        for up in ups:
            if up.type in RESTATED:
                keys = _restated_keys(up.type, via_frames)
                where = f"{source}: stages[{index[up.id]}].params"
                _reconcile(up, keys, pre, name, stage, where, filled)
    for stage in spec.stages:
        if stage.type == "decode_video":
            _fill_decode_fps(spec, stage, f"{source}: stages[{index[stage.id]}].params")


def _restated_keys(stage_type: str, via_frames: bool) -> list[tuple[str, str]]:
    """Keys reconciled on a stage: fps sits on the frames stage when one stands in between."""
    fps_here = (stage_type == "frames") if via_frames else (stage_type == "decode_video")
    return [(k, pk) for k, pk in RESTATED[stage_type] if k != "fps" or fps_here]


def _fill_decode_fps(spec: PipelineSpec, decode: StageSpec, where: str) -> None:
    """Decode at the highest fps its frames stages ask for; refuse a set fps below one of them."""
    wanted = [s for s in spec.consumers(decode.id) if s.type == "frames" and s.params.fps is not None]
    if not wanted or decode.params.num_frames is not None:
        return
    top = max(wanted, key=lambda s: s.params.fps)
    if "fps" not in decode.params.model_fields_set and decode.params.fps is None:
        decode.params.fps = top.params.fps
    elif decode.params.fps is None or decode.params.fps < top.params.fps - 1e-9:
        raise ConfigError(
            f"{where} ({decode.id}) sets fps={decode.params.fps} but frames stage {top.id!r} needs "
            f"fps={top.params.fps:g}; decode at least that fast or remove the key"
        )


def _reconcile(
    up: StageSpec, keys: list[tuple[str, str]], pre: Any, bundle: str, user: StageSpec, where: str,
    filled: dict,
) -> None:  # fmt: skip
    params = up.params
    set_keys = params.model_fields_set
    restated = {}
    for key, pre_key in keys:
        if key in set_keys:
            value = getattr(params, key)
            restated[pre_key] = list(value) if isinstance(value, tuple) else value
    if up.type == "decode_video" and restated.keys() & {"fps", "num_frames"}:
        for _, pre_key in keys:
            if pre_key in ("fps", "num_frames"):
                restated.setdefault(pre_key, None)
    try:
        pre.check_compatible(restated, source=f"{where} ({up.id})")
    except ConfigError as err:
        origin = {filled[(up.id, k)] for k, _ in keys if (up.id, k) in filled}
        note = f" (values taken from bundle {', '.join(sorted(origin))})" if origin else ""
        raise ConfigError(f"{err}{note}; bundle {bundle!r} is used by stage {user.id!r}") from None
    for key, pre_key in keys:
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
