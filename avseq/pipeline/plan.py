"""A validated spec turned into runnable stage objects (models loaded once per run)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from avseq.pipeline.domain import DomainWatch
from avseq.pipeline.memory import INFERENCE_CHUNK
from avseq.pipeline.precision import autocast, autocast_dtype, precision_name
from avseq.pipeline.spec import PipelineSpec, StageSpec
from avseq.pipeline.stages import STAGES

if TYPE_CHECKING:
    import torch


@dataclass
class BuildContext:
    """What a stage's constructor may use: the whole spec, its device, a shared bundle cache.

    domain: the run's domain check, which watches every bundle loaded here.
    """

    spec: PipelineSpec
    bundles: dict[str, Any] = field(default_factory=dict)
    domain: DomainWatch = field(default_factory=DomainWatch)

    def device(self, stage: StageSpec) -> torch.device:
        from avseq.devices import resolve_device

        if stage.device:
            return resolve_device(stage.device, f"stages.{stage.id}.device")
        return resolve_device(self.spec.device, "device")

    def bundle(self, name: str, device: torch.device) -> Any:
        """The bundle ``name`` (a name or a folder) on ``device``, loaded once per run and device."""
        key = f"{name}@{device}"
        if key not in self.bundles:
            from avseq.bundles import load
            from avseq.models import FrameEncoder, GroundedEncoder

            self.bundles[key] = load(name, device)
            for module in self.bundles[key].system.modules():  # a training chunk can be 4096 frames
                if isinstance(module, (FrameEncoder, GroundedEncoder)):
                    module.chunk_size = min(module.chunk_size, INFERENCE_CHUNK)
            self.domain.watch(self.bundles[key])
        return self.bundles[key]

    def limits(self) -> Any:
        """The pipeline's media caps as :class:`avseq.io.MediaLimits`."""
        from avseq.io.limits import DEFAULT_LIMITS, MediaLimits

        # keep each cap's type (pixels and frames are ints) whatever YAML gave
        return MediaLimits(**{k: type(getattr(DEFAULT_LIMITS, k))(v) for k, v in self.spec.limits.items()})


@dataclass
class Plan:
    """Runnable stages by role, in topological order.

    keep: ids of stages whose per-clip pieces must be kept for sinks or results.
    autocast: (device, dtype) of each batch stage whose type runs under the pipeline's
    ``precision``, resolved when it is built (dtype None: float32).
    """

    spec: PipelineSpec
    objects: dict[str, Any]
    sources: list[StageSpec]
    batch: list[StageSpec]
    sinks: list[StageSpec]
    keep: list[str]
    context: BuildContext
    autocast: dict[str, tuple[torch.device, torch.dtype | None]] = field(default_factory=dict)

    def build(self, roles: tuple[str, ...]) -> None:
        """Construct the stages of ``roles`` not built yet (models load onto their devices here)."""
        for s in self.spec.stages:
            st = STAGES.get(s.type)
            if s.id not in self.objects and st.role in roles:
                self.objects[s.id] = st.impl(s, self.context)
                if st.autocast:
                    device = self.context.device(s)
                    self.autocast[s.id] = (device, autocast_dtype(self.spec.precision, device))

    def precision(self, stage_id: str) -> contextlib.AbstractContextManager:
        """The context a batch stage runs in: autocast at its precision, or nothing (float32)."""
        if stage_id not in self.autocast:
            return contextlib.nullcontext()
        return autocast(*self.autocast[stage_id])

    def precisions(self) -> dict[str, str]:
        """{stage id: fp32 / bf16 / fp16} of the stages that run under the pipeline's precision."""
        return {sid: precision_name(dtype) for sid, (_, dtype) in self.autocast.items()}

    def kind(self, stage_id: str) -> str:
        return STAGES.get(self.spec.stage(stage_id).type).produces

    def expected_outputs(self) -> dict[str, str]:
        """{result key: file name} over all sinks (e.g. {"caption_vtt": "caption.vtt"})."""
        out: dict[str, str] = {}
        for s in self.sinks:
            out.update(STAGES.get(s.type).outputs(s.params))
        return out

    def bundle_versions(self) -> list[dict[str, Any]]:
        """[{name, version}] of every bundle loaded for this run."""
        seen = {(b.name, b.version, str(b.path)) for b in self.context.bundles.values()}
        return [{"name": n, "version": v, "path": p} for n, v, p in sorted(seen)]


ROLES = ("source", "batch", "sink")


def build_plan(spec: PipelineSpec, roles: tuple[str, ...] = ROLES) -> Plan:
    """Construct the stages of ``roles`` (loading models onto their devices); the others stay unbuilt.

    The Ray executor builds each role where it runs: sources in decode tasks, batch stages
    (the models) once per actor, sinks in write tasks.
    """
    by_role: dict[str, list[StageSpec]] = {"source": [], "batch": [], "sink": []}
    for s in spec.stages:
        by_role[STAGES.get(s.type).role].append(s)
    keep = {i for s in by_role["sink"] for i in s.input}
    keep |= {s.id for s in spec.stages if STAGES.get(s.type).produces == "text"}
    plan = Plan(
        spec, {}, by_role["source"], by_role["batch"], by_role["sink"], sorted(keep), BuildContext(spec)
    )
    plan.build(roles)
    return plan
