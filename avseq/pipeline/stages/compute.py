"""Batch stages, run in the main process on a batch of clips, each on its stage's device.

``frames`` (resize / crop / to_float), ``encode_frames`` (a frame encoder or a
bundle's), ``sound`` (a bundle's SoundSystem -> log-mel), ``vocoder`` (log-mel ->
waveform) and ``caption`` (a bundle's CaptionSystem -> text).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)

from avseq.errors import ConfigError
from avseq.pipeline.stages.base import StageType, register
from avseq.types import Audio, FrameBatch, Frames, Spectrogram
from avseq.types import Features as FeatureBatch

HW = tuple[PositiveInt, PositiveInt]


class FramesParams(BaseModel):
    """size [H, W]: resize to it (``transform: fit`` keeps the aspect and center-crops,
    ``resize`` stretches); crop [H, W]: center crop afterwards. fps: keep the frame shown
    at each ``k / fps`` among the decoded frames (a branch slower than the shared decode).
    A bundle downstream fills ``size``, ``transform`` and ``fps`` from its preprocessing."""

    model_config = ConfigDict(extra="forbid")
    size: HW | None = None
    fps: PositiveFloat | None = None
    transform: Literal["fit", "resize"] = "fit"
    crop: HW | None = None
    interpolation: Literal["bilinear", "bicubic", "nearest", "nearest-exact"] = "bilinear"


class FramesStage:
    """list[Frames] uint8 (T, 3, H, W) -> FrameBatch float (B, T, 3, H, W) in [0, 1] on the device."""

    def __init__(self, spec: Any, ctx: Any) -> None:
        self.params, self.device = spec.params, ctx.device(spec)
        decode = next((s for s in ctx.spec.upstream(spec.id) if s.type == "decode_video"), None)
        self.decode_fps = decode.params.fps if decode is not None else None

    def _resample(self, clip: Frames) -> Frames:
        """Frames shown at ``k / fps`` (the last decoded frame with pts <= each time)."""
        fps, step = self.params.fps, 1.0 / self.decode_fps if self.decode_fps else 0.0
        if fps is None or not len(clip) or (self.decode_fps and abs(fps - self.decode_fps) < 1e-9):
            return clip
        first, end = float(clip.pts[0]), float(clip.pts[-1]) + step
        k = torch.arange(math.ceil(first * fps - 1e-6), math.ceil(end * fps - 1e-6), dtype=torch.float64)
        times = (k / fps).clamp(min=first)
        index = (torch.searchsorted(clip.pts, times + 1e-6, right=True) - 1).clamp(min=0)
        return Frames(clip.data[index], clip.pts[index])

    def _one(self, clip: Frames) -> torch.Tensor:
        from avseq.transforms import center_crop, fit, resize

        p, data = self.params, clip.data.to(self.device, non_blocking=True)
        if p.size is not None:
            data = (fit if p.transform == "fit" else resize)(data, tuple(p.size), p.interpolation)
        if p.crop is not None:
            data = center_crop(data, tuple(p.crop))
        return data

    def __call__(self, inputs: list[Any]) -> FrameBatch:
        from avseq.transforms import to_float

        clips = [self._resample(c) for c in inputs[0]]
        clips = [Frames(self._one(c), c.pts) for c in clips]
        batch = FrameBatch.from_clips(clips)
        return FrameBatch(to_float(batch.data), batch.pts, batch.lengths)


class EncodeParams(BaseModel):
    """Either ``bundle`` (use its trained encoder) or ``encoder`` (a name in ENCODERS, with ``options``)."""

    model_config = ConfigDict(extra="forbid")
    bundle: str | None = None
    encoder: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("encoder")
    @classmethod
    def _known_encoder(cls, name: str | None) -> str | None:
        from avseq.models import ENCODERS

        if name is not None and name not in ENCODERS:
            raise ValueError(f"unknown encoder {name!r}; known: {', '.join(ENCODERS.list())}")
        return name

    @model_validator(mode="after")
    def _one_source(self) -> EncodeParams:
        if (self.bundle is None) == (self.encoder is None):
            raise ValueError(
                f"give exactly one of bundle or encoder "
                f"(got bundle={self.bundle!r}, encoder={self.encoder!r})"
            )
        return self


class EncodeStage:
    """FrameBatch (B, T, 3, H, W) -> Features (B, T, D) with the same lengths."""

    def __init__(self, spec: Any, ctx: Any) -> None:
        p, self.device = spec.params, ctx.device(spec)
        if p.bundle is not None:
            self.encode = ctx.bundle(p.bundle, self.device).system.features
        else:
            from avseq.models import build_encoder

            self.encode = build_encoder(p.encoder, **p.options).to(self.device).eval()

    @torch.inference_mode()
    def __call__(self, inputs: list[Any]) -> FeatureBatch:
        batch: FrameBatch = inputs[0].to(self.device)
        lengths = batch.lengths.to(self.device)
        return FeatureBatch(self.encode(batch.data, lengths), lengths)


def _system_inputs(value: Any, device: torch.device) -> tuple[bool, torch.Tensor, torch.Tensor]:
    """(is_features, data, lengths) on ``device`` from a FrameBatch or Features input."""
    if isinstance(value, FrameBatch):
        value = value.to(device)
        return False, value.data, value.lengths.to(device)
    return True, value.data.to(device), value.lengths.to(device)


class BundleParams(BaseModel):
    """bundle: a bundle name (e.g. synth-sound) or a bundle folder."""

    model_config = ConfigDict(extra="forbid")
    bundle: str


class SoundStage:
    """FrameBatch or Features (B, T, ...) -> Spectrogram log-mel (B, n_mels, T') at the mel frame rate."""

    def __init__(self, spec: Any, ctx: Any) -> None:
        self.device = ctx.device(spec)
        self.system = ctx.bundle(spec.params.bundle, self.device).system

    @torch.inference_mode()
    def __call__(self, inputs: list[Any]) -> Spectrogram:
        is_features, data, lengths = _system_inputs(inputs[0], self.device)
        run = self.system.from_features if is_features else self.system
        mel, mel_lengths = run(data, lengths)
        return Spectrogram(mel, mel_lengths, float(self.system.model.mel_frame_rate))


class VocoderParams(BaseModel):
    """name: the vocoder (griffin_lim); n_iter, nnls_iter, momentum and seed tune Griffin-Lim."""

    model_config = ConfigDict(extra="forbid")
    name: Literal["griffin_lim"] = "griffin_lim"
    n_iter: int = Field(32, ge=0, le=1000)
    nnls_iter: int = Field(16, ge=0, le=1000)
    momentum: float = Field(0.99, ge=0, lt=1)
    seed: int = 0


def _upstream_recipe(pipeline: Any, spec: Any) -> Any:
    """The mel recipe of the bundle of the nearest ``sound`` stage upstream of ``spec``."""
    from avseq.bundles import read_preprocessing

    for up in pipeline.upstream(spec.id):
        if up.type == "sound":
            return read_preprocessing(up.params.bundle).recipe
    raise ConfigError(f"stage {spec.id!r} ({spec.type}) needs a sound stage upstream for its mel recipe")


class VocoderStage:
    """Spectrogram (B, n_mels, T') -> list[Audio] mono (1, N) at the recipe's sample rate.

    The mel recipe comes from the bundle of the ``sound`` stage upstream.
    """

    def __init__(self, spec: Any, ctx: Any) -> None:
        from avseq.vocoders import build_vocoder

        self.device = ctx.device(spec)
        p = spec.params
        recipe = _upstream_recipe(ctx.spec, spec)
        self.vocoder = build_vocoder(
            p.name.replace("_", "-"),
            recipe,
            n_iter=p.n_iter,
            nnls_iter=p.nnls_iter,
            momentum=p.momentum,
            seed=p.seed,
        )
        self.vocoder = (
            self.vocoder.to(self.device) if isinstance(self.vocoder, torch.nn.Module) else self.vocoder
        )

    @torch.inference_mode()
    def __call__(self, inputs: list[Any]) -> list[Audio]:
        spec: Spectrogram = inputs[0]
        wave, lengths = self.vocoder(spec.data.to(self.device), spec.lengths.to(self.device))
        wave, lengths = wave.float().cpu(), lengths.cpu()
        return [
            Audio(wave[i : i + 1, : int(lengths[i])], self.vocoder.sample_rate) for i in range(wave.shape[0])
        ]


class CaptionParams(BaseModel):
    """search: greedy or beam; beam_size (beam only), max_len tokens, length_penalty (GNMT alpha);
    rerank (beam only): ``score`` keeps the best-scoring hypothesis, ``consensus`` the one the
    beam's hypotheses agree with most (avseq.models.consensus)."""

    model_config = ConfigDict(extra="forbid")
    bundle: str
    search: Literal["greedy", "beam"] = "beam"
    beam_size: int = Field(4, ge=1, le=64)
    max_len: int = Field(20, ge=1, le=200)
    length_penalty: float = Field(0.0, ge=0.0, le=5.0)
    rerank: Literal["score", "consensus"] = "score"


class CaptionStage:
    """FrameBatch or Features (B, T, ...) -> list[str], one caption per clip."""

    def __init__(self, spec: Any, ctx: Any) -> None:
        self.device, self.params = ctx.device(spec), spec.params
        bundle = ctx.bundle(spec.params.bundle, self.device)
        self.system = bundle.system
        self.tokenizer = bundle.tokenizer

    @torch.inference_mode()
    def __call__(self, inputs: list[Any]) -> list[str]:
        p = self.params
        is_features, data, lengths = _system_inputs(inputs[0], self.device)
        beam = 1 if p.search == "greedy" else p.beam_size
        options = dict(beam_size=beam, max_len=p.max_len, length_penalty=p.length_penalty, rerank=p.rerank)
        run = self.system.generate_from_features if is_features else self.system.generate
        hyps = run(data, lengths, **options)
        return [self.tokenizer.decode(h[0].tokens) if h else "" for h in hyps]


register(
    StageType(
        "frames",
        "batch",
        FramesParams,
        FramesStage,
        ("video",),
        "frames",
        description="resize / crop / to_float on the stage device",
    )
)
register(
    StageType(
        "encode_frames",
        "batch",
        EncodeParams,
        EncodeStage,
        ("frames",),
        "features",
        description="per-frame CNN features (a bundle's encoder or a named one)",
    )
)
register(
    StageType(
        "sound",
        "batch",
        BundleParams,
        SoundStage,
        ("frames", "features"),
        "spectrogram",
        description="a sound bundle: frames or its features -> log-mel",
    )
)
register(
    StageType(
        "vocoder",
        "batch",
        VocoderParams,
        VocoderStage,
        ("spectrogram",),
        "wave",
        description="log-mel -> waveform",
    )
)
register(
    StageType(
        "caption",
        "batch",
        CaptionParams,
        CaptionStage,
        ("frames", "features"),
        "text",
        description="a caption bundle: frames or its features -> text",
    )
)
