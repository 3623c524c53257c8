"""Pipeline files: YAML (safe loader) -> validated, typed :class:`PipelineSpec`.

Validation happens once, before any input or output file is touched. Every
error is a :class:`~avseq.errors.ConfigError` whose one-line message names the
file and each problem with its key path (``stages[2].params.beam_size``), the bad
value and what is allowed (:mod:`avseq.config` formats it). Stage types resolve
through :data:`avseq.pipeline.stages.STAGES` only, so a pipeline file can never
import or run code.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    ValidationError,
    field_validator,
)

from avseq.config import problems
from avseq.errors import ConfigError
from avseq.pipeline.memory import DEFAULT_MEMORY, MiB
from avseq.pipeline.ray_options import RayOptions
from avseq.pipeline.stages import STAGES, StageType

DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?|mps)$"
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
MIN_MEMORY = 16 * MiB
STAGE_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"


class StageSpec(BaseModel):
    """One node of the graph; ``params`` is validated by the stage type's own model."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=STAGE_ID_PATTERN)
    type: str
    params: Any = Field(default_factory=dict, description="validated by the stage type's params model")
    input: list[str] = Field(default_factory=list)
    device: str | None = Field(None, pattern=DEVICE_PATTERN)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        STAGES.get(value)  # an unknown type: UnknownNameError, reported at stages[i].type
        return value

    @field_validator("params", mode="before")
    @classmethod
    def _mapping(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, (dict, BaseModel)):
            raise ValueError(f"params must be a mapping of key: value, got {type(value).__name__}")
        return value

    @property
    def stage_type(self) -> StageType:
        return STAGES.get(self.type)


class PipelineSpec(BaseModel):
    """A validated pipeline: top-level settings plus stages in topological order."""

    model_config = ConfigDict(extra="forbid")
    version: Literal[1]
    device: str = Field("auto", pattern=DEVICE_PATTERN)
    batch_size: int | Literal["auto"] = Field(
        8, description="clips per model batch; auto: the most that fit the device's free memory"
    )
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="autocast of the model stages; auto: bf16 or fp16 on cuda, fp32 on cpu"
    )
    workers: PositiveInt = 2
    executor: Literal["local", "ray"] = "local"
    timeout: PositiveFloat | None = Field(120.0, description="seconds per input file")
    threads: PositiveInt | None = Field(None, description="torch CPU threads; None = cores left by workers")
    limits: dict[str, PositiveFloat] = Field(default_factory=dict, description="avseq.io.MediaLimits caps")
    memory: ByteSize = Field(
        ByteSize(DEFAULT_MEMORY), description="bytes of decoded media in flight, e.g. 512MiB or 2GB"
    )
    ray: RayOptions = Field(default_factory=RayOptions, description="executor: ray settings")
    stages: list[StageSpec] = Field(min_length=1)
    path: str | None = Field(None, exclude=True)
    # filled by avseq.pipeline.planning: what each stage's consumers need, what each stage provides
    _needs: dict[str, list[Any]] = PrivateAttr(default_factory=dict)
    _provides: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)

    @field_validator("batch_size", mode="before")
    @classmethod
    def _positive_or_auto(cls, value: Any) -> Any:
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            return value
        raise ValueError("Input should be a positive int or 'auto'")

    @field_validator("memory")
    @classmethod
    def _enough_memory(cls, value: ByteSize) -> ByteSize:
        if value < MIN_MEMORY:
            raise ValueError(f"must be at least {ByteSize(MIN_MEMORY).human_readable()} of decoded media")
        return value

    @field_validator("limits")
    @classmethod
    def _known_limits(cls, value: dict[str, float]) -> dict[str, float]:
        from avseq.io.limits import MediaLimits

        known = [f.name for f in dataclasses.fields(MediaLimits)]
        for key in value:
            if key not in known:
                raise ValueError(f"unknown limit {key!r}; allowed: {', '.join(known)}")
        return value

    def stage(self, stage_id: str) -> StageSpec:
        """The stage called ``stage_id``; ConfigError lists the ids that exist."""
        for s in self.stages:
            if s.id == stage_id:
                return s
        raise ConfigError(f"no stage {stage_id!r}; stages: {', '.join(s.id for s in self.stages)}")

    def consumers(self, stage_id: str) -> list[StageSpec]:
        """Stages that take ``stage_id`` as an input."""
        return [s for s in self.stages if stage_id in s.input]

    def needs_of(self, stage_id: str) -> list[Any]:
        """What the consumers of ``stage_id`` need from it (FrameNeed / AudioNeed), as planned."""
        return list(self._needs.get(stage_id, []))

    def declared(self, stage_id: str, key: str) -> Any:
        """The value of ``key`` that stage ``stage_id`` itself declares (its ``provides``), or None."""
        return self._provides.get(stage_id, {}).get(key)

    def provided(self, stage_id: str, key: str) -> Any:
        """The value of ``key`` declared by the nearest stage upstream of ``stage_id``, or None."""
        for up in self.upstream(stage_id):
            if key in self._provides.get(up.id, {}):
                return self._provides[up.id][key]
        return None

    def upstream(self, stage_id: str) -> list[StageSpec]:
        """All stages ``stage_id`` depends on, nearest first."""
        seen: list[StageSpec] = []
        frontier = list(self.stage(stage_id).input)
        while frontier:
            s = self.stage(frontier.pop(0))
            if s not in seen:
                seen.append(s)
                frontier.extend(s.input)
        return seen


TOP_LEVEL_KEYS = tuple(k for k in PipelineSpec.model_fields if k != "path")


def normalize_inputs(raw: dict) -> None:
    """Let ``input: decode`` stand for ``input: [decode]``."""
    stages = raw.get("stages")
    if isinstance(stages, list):
        for s in stages:
            if isinstance(s, dict) and isinstance(s.get("input"), str):
                s["input"] = [s["input"]]
            elif isinstance(s, dict) and s.get("input") is None:
                s.pop("input", None)


def validate_params(spec: PipelineSpec, source: str) -> None:
    """Validate each stage's params with its type's model, in place; one ConfigError lists all."""
    found = []
    for i, stage in enumerate(spec.stages):
        model = stage.stage_type.params
        try:
            stage.params = model.model_validate(stage.params)
        except ValidationError as err:
            found += problems(err, model, prefix=f"stages[{i}].params")
    if found:
        raise ConfigError(f"{source}: {'; '.join(found)}")
