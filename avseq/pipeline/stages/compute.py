"""Batch stages, run in the main process on a batch of clips, each on its stage's device.

``frames`` (resize / crop / to_float), ``encode_frames`` (a frame encoder or a
bundle's), ``sound`` (a bundle's SoundSystem -> log-mel), ``vocoder`` (log-mel ->
waveform) and ``caption`` (a bundle's CaptionSystem -> text). The three model stages run
under the pipeline's ``precision`` (``autocast=True``) and hand float32 values on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from avseq.errors import AvseqError, ConfigError
from avseq.io.sampling import check_sampling
from avseq.models.defaults import DEFAULT_BEAM_SIZE
from avseq.pipeline.stages.base import StageType, inference, register
from avseq.pipeline.stages.contract import FrameNeed, NeedContext, agree, frame_needs
from avseq.pipeline.stages.events import caption_provides, check_mode, event_captions

if TYPE_CHECKING:
    import torch

    from avseq.types import Audio, FrameBatch, Frames, Spectrogram
    from avseq.types import Features as FeatureBatch

HW = tuple[PositiveInt, PositiveInt]
# the bundle kinds whose systems decode captions (avseq.models.systems: CaptionSystem, FrameCaptionSystem)
CAPTION_KINDS = ("caption", "frame_caption", "dense_caption")


class FramesParams(BaseModel):
    """size [H, W]: resize to it (``transform: fit`` keeps the aspect and center-crops,
    ``resize`` stretches); crop [H, W]: center crop afterwards. fps: this branch's rate (the
    decode samples every rate its branches need and hands each exactly its frames).
    A bundle downstream fills ``size``, ``transform`` and ``fps`` from its preprocessing."""

    model_config = ConfigDict(extra="forbid")
    size: HW | None = None
    fps: PositiveFloat | None = None
    transform: Literal["fit", "resize"] = "fit"
    crop: HW | None = None
    interpolation: Literal["bilinear", "bicubic", "nearest", "nearest-exact"] = "bilinear"


def _frames_needs(stage: Any, wanted: list[Any], ctx: NeedContext) -> list[FrameNeed]:
    """Take size, transform and fps from the bundles downstream; ask the decode for them."""
    needs, p = frame_needs(wanted), stage.params
    size, transform, fps = (agree(stage, key, needs, ctx) for key in ("size", "transform", "fps"))
    num_frames = agree(stage, "num_frames", needs, ctx)
    for key, value in (("size", size), ("transform", transform), ("fps", fps)):
        if value is not None and getattr(p, key) != value:
            setattr(p, key, tuple(value) if isinstance(value, list) else value)
    try:
        check_sampling(fps, num_frames)
    except ValueError as err:
        raise ConfigError(
            f"{ctx.where(stage)} ({stage.id}): a bundle downstream and this stage: {err}"
        ) from None
    origin = f"frames stage {stage.id!r}" + (f" (for {needs[0].origin})" if needs else "")
    return [FrameNeed(fps, num_frames, p.size, p.transform, origin=origin)]


class FramesStage:
    """Decoded video (uint8, sampled and scaled in the decoder) -> FrameBatch float (B, T, 3, H, W)
    in [0, 1] on the device, with this branch's frames only."""

    def __init__(self, spec: Any, ctx: Any) -> None:
        self.id, self.params, self.device = spec.id, spec.params, ctx.device(spec)

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
        from avseq.types import FrameBatch, Frames

        clips = [video.take(self.id) for video in inputs[0]]
        clips = [Frames(self._one(c), c.pts) for c in clips]
        batch = FrameBatch.from_clips(clips)
        return FrameBatch(to_float(batch.data), batch.pts, batch.lengths)


def _bundle_need(stage: Any, ctx: NeedContext) -> FrameNeed:
    """The frames the bundle of ``stage`` was trained on (ConfigError naming ``params.bundle``)."""
    pre = _preprocessing(stage, ctx)
    origin = f"the bundle {stage.params.bundle!r} of stage {stage.id!r}"
    return FrameNeed(pre.fps, pre.num_frames, pre.frame_size, pre.frame_transform, origin=origin,
                     bundle=stage.params.bundle)  # fmt: skip


def _preprocessing(stage: Any, ctx: NeedContext) -> Any:
    from avseq.bundles import read_preprocessing

    try:
        return read_preprocessing(stage.params.bundle)
    except AvseqError as err:
        raise ConfigError(f"{ctx.where(stage, 'params.bundle')}: {err}") from None


def model_needs(stage: Any, wanted: list[Any], ctx: NeedContext) -> list[FrameNeed]:
    """A bundle stage needs frames (or features) made the way its bundle was trained."""
    return [_bundle_need(stage, ctx)]


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


def _encode_needs(stage: Any, wanted: list[Any], ctx: NeedContext) -> list[FrameNeed]:
    """Consumers of features must use this stage's bundle; with a bundle, it needs that bundle's frames."""
    p = stage.params
    for need in frame_needs(wanted):
        if need.bundle is not None and need.bundle != p.bundle:
            user = ctx.spec.stage(need.consumer)
            used = f"bundle {p.bundle!r}" if p.bundle else f"encoder {p.encoder!r}"
            raise ConfigError(
                f"{ctx.where(user, 'input')}: {user.type} stage {user.id!r} (bundle {need.bundle!r}) reads "
                f"features of {stage.id!r} made with {used}; features must come from the same bundle, or "
                f"read frames directly"
            )
    return [] if p.bundle is None else [_bundle_need(stage, ctx)]


class EncodeStage:
    """FrameBatch (B, T, 3, H, W) -> Features (B, T, D) with the same lengths."""

    def __init__(self, spec: Any, ctx: Any) -> None:
        p, self.device = spec.params, ctx.device(spec)
        if p.bundle is not None:
            self.encode = ctx.bundle(p.bundle, self.device).system.features
        else:
            from avseq.models import build_encoder

            self.encode = build_encoder(p.encoder, **p.options).to(self.device).eval()

    @inference
    def __call__(self, inputs: list[Any]) -> FeatureBatch:
        from avseq.types import Features as FeatureBatch

        batch: FrameBatch = inputs[0].to(self.device)
        return FeatureBatch(self.encode(batch.data, batch.lengths).float(), batch.lengths)


def system_inputs(value: Any, device: torch.device) -> tuple[bool, torch.Tensor, torch.Tensor]:
    """(is_features, data, lengths) on ``device`` from a FrameBatch or Features input."""
    from avseq.types import FrameBatch

    value = value.to(device)
    return not isinstance(value, FrameBatch), value.data, value.lengths


class BundleParams(BaseModel):
    """bundle: a bundle name (e.g. synth-sound) or a bundle folder."""

    model_config = ConfigDict(extra="forbid")
    bundle: str


class SoundStage:
    """FrameBatch or Features (B, T, ...) -> Spectrogram log-mel (B, n_mels, T') at the mel frame rate."""

    def __init__(self, spec: Any, ctx: Any) -> None:
        self.device = ctx.device(spec)
        self.system = ctx.bundle(spec.params.bundle, self.device).system

    @inference
    def __call__(self, inputs: list[Any]) -> Spectrogram:
        from avseq.types import Spectrogram

        is_features, data, lengths = system_inputs(inputs[0], self.device)
        run = self.system.from_features if is_features else self.system
        mel, mel_lengths = run(data, lengths)
        return Spectrogram(mel.float(), mel_lengths, float(self.system.model.mel_frame_rate))


class VocoderParams(BaseModel):
    """name: a registered vocoder (``griffin_lim``; ``_`` may stand for the registry's ``-``).
    Every other key is an option of that vocoder, checked by its own options model (Griffin-Lim:
    n_iter, nnls_iter, momentum, init, seed; see avseq.vocoders)."""

    model_config = ConfigDict(extra="allow")
    name: str = "griffin_lim"

    @model_validator(mode="after")
    def _vocoder_options(self) -> VocoderParams:
        from avseq.vocoders import vocoder_type

        model = vocoder_type(self.name).options
        unknown = sorted(set(self.options) - set(model.model_fields))
        if unknown:
            allowed = ", ".join(["name", *model.model_fields])
            raise ValueError(f"unknown keys {unknown} for vocoder {self.name!r}; allowed: {allowed}")
        model.model_validate(self.options)
        return self

    @property
    def options(self) -> dict[str, Any]:
        """The vocoder's options: every key but ``name``."""
        return dict(self.model_extra or {})


def _sound_provides(stage: Any, ctx: NeedContext) -> dict[str, Any]:
    """A sound stage's output is a log-mel of its bundle's recipe."""
    return {"mel_recipe": _preprocessing(stage, ctx).recipe}


def _vocoder_needs(stage: Any, wanted: list[Any], ctx: NeedContext) -> list[FrameNeed]:
    if ctx.provided(stage, "mel_recipe") is None:
        raise ConfigError(
            f"{ctx.where(stage, 'input')}: stage {stage.id!r} ({stage.type}) needs a log-mel of a known "
            f"recipe upstream (a sound stage), for its mel recipe"
        )
    return []


class VocoderStage:
    """Spectrogram (B, n_mels, T') -> list[Audio] mono (1, N) at the recipe's sample rate.

    The mel recipe is the one the stage upstream provides (a sound stage's bundle's).
    """

    def __init__(self, spec: Any, ctx: Any) -> None:
        import torch

        from avseq.vocoders import build_vocoder

        self.device = ctx.device(spec)
        recipe = ctx.spec.provided(spec.id, "mel_recipe")
        self.vocoder = build_vocoder(spec.params.name, recipe, **spec.params.options)
        self.vocoder = (
            self.vocoder.to(self.device) if isinstance(self.vocoder, torch.nn.Module) else self.vocoder
        )

    @inference
    def __call__(self, inputs: list[Any]) -> list[Audio]:
        spec: Spectrogram = inputs[0]
        data, lengths = spec.data.to(self.device), spec.lengths.to(self.device)
        if self.device.type == "cpu":  # each clip at its own length: on a CPU, padding costs FFTs
            frames = spec.lengths.tolist()  # and batching buys nothing
            return [self._audio(*self.vocoder(data[i : i + 1, :, :n], lengths[i : i + 1]))[0]
                    for i, n in enumerate(frames)]  # fmt: skip
        return self._audio(*self.vocoder(data, lengths))

    def _audio(self, wave: torch.Tensor, lengths: torch.Tensor) -> list[Audio]:
        from avseq.types import Audio

        wave, lengths = wave.float().cpu(), lengths.cpu()
        return [
            Audio(wave[i : i + 1, : int(lengths[i])], self.vocoder.sample_rate) for i in range(wave.shape[0])
        ]


class CaptionParams(BaseModel):
    """search: greedy or beam; beam_size (beam only), max_len tokens, length_penalty (GNMT alpha);
    rerank (beam only): ``score`` keeps the best-scoring hypothesis, ``consensus`` the one the
    beam's hypotheses agree with most (avseq.models.consensus); n_best (beam only, at most
    beam_size): the hypotheses kept per clip, the caption first, written with their scores as
    the ``alternatives`` of caption.json (1: the caption alone, no alternatives).
    mode: ``window``, one caption per window; ``events``, one timed caption per event the bundle
    proposes (needs a ``dense_caption`` bundle; see avseq.pipeline.stages.events), keeping those
    whose start, inside and end scores reach ``threshold``, at most ``max_events`` per window."""

    model_config = ConfigDict(extra="forbid")
    bundle: str
    mode: Literal["window", "events"] = "window"
    threshold: float = Field(0.5, gt=0.0, lt=1.0)
    max_events: int = Field(10, ge=1, le=100)
    search: Literal["greedy", "beam"] = "beam"
    beam_size: int = Field(DEFAULT_BEAM_SIZE, ge=1, le=64)
    max_len: int = Field(20, ge=1, le=200)
    length_penalty: float = Field(0.0, ge=0.0, le=5.0)
    rerank: Literal["score", "consensus"] = "score"
    n_best: int = Field(1, ge=1, le=64)

    @field_validator("n_best")
    @classmethod
    def _within_the_beam(cls, value: int, info: ValidationInfo) -> int:
        search, beam_size = info.data.get("search"), info.data.get("beam_size")
        if value > 1 and search == "greedy":
            raise ValueError(f"n_best {value} needs search: beam (greedy keeps one); allowed: 1")
        if beam_size is not None and value > beam_size:
            raise ValueError(f"n_best {value} is more than beam_size {beam_size}; allowed: 1..{beam_size}")
        if value > 1 and info.data.get("mode") == "events":
            raise ValueError(f"n_best {value} needs mode: window (events keep one caption each); allowed: 1")
        return value


def _caption_needs(stage: Any, wanted: list[Any], ctx: NeedContext) -> list[FrameNeed]:
    """A caption stage's bundle frames; ``mode: events`` needs a bundle that proposes events."""
    check_mode(stage, ctx)
    return model_needs(stage, wanted, ctx)


class CaptionStage:
    """FrameBatch or Features (B, T, ...) -> list[str], one caption per clip; with ``n_best`` > 1
    each is a :class:`~avseq.io.captions.Caption` that carries the alternatives and their scores;
    with ``mode: events`` each is an :class:`~avseq.io.EventCaptions`, one timed cue per event."""

    def __init__(self, spec: Any, ctx: Any) -> None:
        self.device, self.params = ctx.device(spec), spec.params
        bundle = ctx.bundle(spec.params.bundle, self.device)
        self.system = bundle.system
        self.tokenizer = bundle.tokenizer
        self.fps = bundle.preprocessing.fps

    @inference
    def __call__(self, inputs: list[Any]) -> list[str]:
        p = self.params
        is_features, data, lengths = system_inputs(inputs[0], self.device)
        if p.mode == "events":
            features = data if is_features else self.system.features(data, lengths)
            return event_captions(self.system, self.tokenizer, features, lengths, self.fps, p)
        beam = 1 if p.search == "greedy" else p.beam_size
        options = dict(beam_size=beam, max_len=p.max_len, length_penalty=p.length_penalty, rerank=p.rerank)
        run = self.system.generate_from_features if is_features else self.system.generate
        hyps = run(data, lengths, n_best=p.n_best, **options)
        return [self._caption(h) for h in hyps]

    def _caption(self, hyps: list[Any]) -> str:
        """The text of the first hypothesis; with ``n_best`` > 1, a Caption carrying them all."""
        from avseq.io.captions import Alternative, Caption

        texts = [self.tokenizer.decode(h.tokens) for h in hyps]
        if self.params.n_best == 1 or not hyps:
            return texts[0] if texts else ""
        alternatives = [Alternative(t, h.score, h.log_prob) for t, h in zip(texts, hyps, strict=True)]
        return Caption(texts[0], alternatives)


register(
    StageType(
        "frames",
        "batch",
        FramesParams,
        FramesStage,
        ("video",),
        "frames",
        needs=_frames_needs,
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
        needs=_encode_needs,
        autocast=True,
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
        needs=model_needs,
        provides=_sound_provides,
        bundle_kinds=("sound",),
        autocast=True,
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
        needs=_vocoder_needs,
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
        needs=_caption_needs,
        provides=caption_provides,
        bundle_kinds=CAPTION_KINDS,
        autocast=True,
    )
)
