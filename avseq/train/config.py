"""Training config: YAML (safe loader) -> validated pydantic objects, once, at the edge.

Sections: ``data``, ``preprocessing``, ``system`` (the
dict :func:`avseq.models.build_system` takes), ``optim``, ``loss``, ``train`` and
``output_dir``. ``--set a.b.c=VALUE`` overrides are applied to the raw mapping
before validation (:mod:`avseq.config`, as for pipeline files); an error names the
file and every problem with its key path, the bad value and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from avseq import config, shipped
from avseq.data.sources.splits import SPLITS, parse_fractions
from avseq.errors import ConfigError
from avseq.models.beam import DEFAULT_BEAM_SIZE
from avseq.models.systems import check_model_options
from avseq.train.compiling import CompileBackend

Kind = Literal["caption", "sound", "dense_caption", "classify", "frame_caption"]
KINDS = ("caption", "sound", "dense_caption", "classify", "frame_caption")
# kinds that caption whole clips, trained alike (same datasets, losses and metrics)
CLIP_CAPTION_KINDS = ("caption", "frame_caption")
# what a classify system predicts when data.attributes is not given
DEFAULT_ATTRIBUTES = ("material", "action", "colour", "shape")
SIDED = frozenset({"direction"})  # attributes a mirrored clip changes (level 1: where a slide goes)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitSpec(_Strict):
    """One generated split of the synthetic world: how many clips, and the offset of their seeds
    inside the split's seed range (see :data:`avseq.data.SPLIT_SEEDS`)."""

    clips: int = Field(gt=0)
    seed_offset: int = Field(default=0, ge=0)


class DataConfig(_Strict):
    """Where the clips come from: manifests, a folder of videos with sound, or splits of the
    synthetic world generated on demand.

    manifests: split name -> JSONL manifest path (relative paths are relative to the config file;
    in a shipped config, to the working directory: see :func:`load_config`).
    folder: any folder of videos with sound (relative to the working directory, like ``root``):
    at start-up its manifests are written into ``<root>/manifests`` as ``avseq data folder``
    writes them (every file probed; the ones without usable sound left out and listed in the
    report there), split by a hash of each file's path by ``folder_split`` (train, val, test).
    synth: :class:`avseq.data.SynthConfig` fields for generated splits; splits: name -> clips + seed.
    root: folder for generated splits and the feature cache (default ``<output_dir>/data``);
    relative to the working directory, like ``output_dir``, so configs can share generated data.
    cache_features: with a frozen encoder, cache its features on disk (avseq.data.feature_cache);
    with some members of a concatenated encoder frozen (``frozen: true``), cache theirs, so
    only the members that train run their CNN each step;
    in_memory: with a trained encoder, keep decoded clips in memory after the first epoch.
    mirror: the probability that a training clip is seen mirrored left-right in an epoch (drawn per
    clip and epoch from ``train.seed``; 0 = never), with where its acting object is (classify); a
    frozen encoder's features of both views are cached (:mod:`avseq.data.augment`). A classifier
    of ``direction`` refuses it (it names a side), and so do captions without ``mirror_words``.
    mirror_words: captions: words that name a side, each pair swapped both ways in a mirrored
    clip's captions (``{left: right}``: "slides left" is trained as "slides right"); needs
    ``mirror``.
    attributes: classify: the attributes predicted, each its own softmax over the values the
    training clips give it (a level-1 clip's ``attributes``; each event span of a level-2 clip,
    that event's); default material, action, colour, shape.
    """

    manifests: dict[str, Path] = {}
    folder: Path | None = None
    folder_split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    synth: dict[str, Any] | None = None
    splits: dict[str, SplitSpec] = {}
    root: Path | None = None
    train_split: str = "train"
    val_split: str = "val"
    cache_features: bool = True
    in_memory: bool = False
    mirror: float = Field(default=0.0, ge=0.0, le=1.0)
    mirror_words: dict[str, str] = {}
    val_clips: int | None = Field(default=None, gt=0)
    attributes: tuple[str, ...] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if not self.manifests and not self.splits and self.folder is None:
            raise ValueError(
                "give data.manifests (split -> path), data.splits with data.synth, or data.folder "
                "(a folder of videos with sound: --set data.folder=DIR)"
            )
        if self.folder is not None and (self.manifests or self.splits):
            raise ValueError(
                "data.folder writes its own manifests: give it without data.manifests or data.splits"
            )
        if self.splits and self.synth is None:
            raise ValueError("data.splits needs data.synth (the synthetic world settings)")
        if self.folder is not None:
            try:
                parse_fractions(",".join(str(f) for f in self.folder_split))
            except ConfigError as err:
                raise ValueError(f"data.folder_split: {err}") from None
        names = set(self.manifests) | set(self.splits) | (set(SPLITS) if self.folder is not None else set())
        for split in (self.train_split, self.val_split):
            if split not in names:
                raise ValueError(f"split {split!r} is not defined; defined: {', '.join(sorted(names))}")
        return self


class OptimConfig(_Strict):
    """AdamW with linear warmup, then ``decay`` to ``min_lr_ratio * lr``; clip grads by norm."""

    lr: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=0.01, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = Field(default=100, ge=0)
    decay: Literal["cosine", "linear", "constant"] = "cosine"
    min_lr_ratio: float = Field(default=0.05, ge=0, le=1)
    grad_clip: float | None = Field(default=1.0, gt=0)
    encoder_lr_scale: float = Field(default=1.0, ge=0)


class LossConfig(_Strict):
    """sound: masked log-mel ``kind`` loss with frames weighted up to ``1 + onset_weight`` where
    sound starts (targets are raised to the model's ``floor`` when it has one), plus
    ``onset_bce`` times the onset-detection loss (the model needs ``onset_head: true``), whose
    labels are the onsets picked from each clip's audio (``onset_labels: audio``) or, for clips
    whose manifest annotates events, the events' sound times (``events``; audio picks elsewhere);
    caption: cross-entropy with ``label_smoothing``, plus ``word_bce`` times the bag-of-words
    loss (the model needs ``word_head: true``); ``min_word_count``: vocabulary cut.
    ``self_critical_from``: from this step on, captions train by self-critical sequence
    training instead (:mod:`avseq.train.self_critical`): ``self_critical_samples`` captions
    are sampled per clip and rewarded by their CIDEr-D against the clip's references.
    dense_caption: the caption cross-entropy of every event on its own frames, plus
    ``proposal_bce`` times the per-frame start / inside / end loss of the proposal head.
    classify: the sum over attributes of each one's cross-entropy (``label_smoothing`` applies),
    plus ``locator_ce`` times the cross-entropy of a ``grounded`` encoder's locator against where
    the events' objects are (their ``track``s), while that encoder trains.
    frame_caption: as caption (no bag-of-words head)."""

    kind: Literal["l1", "mse"] = "l1"
    onset_weight: float = Field(default=0.0, ge=0)
    onset_bce: float = Field(default=0.0, ge=0)
    onset_labels: Literal["audio", "events"] = "audio"
    word_bce: float = Field(default=0.0, ge=0)
    label_smoothing: float = Field(default=0.0, ge=0, lt=1)
    min_word_count: int = Field(default=1, ge=1)
    self_critical_from: int | None = Field(default=None, ge=0)
    self_critical_samples: int = Field(default=5, ge=2)
    proposal_bce: float = Field(default=1.0, ge=0)
    locator_ce: float = Field(default=1.0, ge=0)


class TrainLoopConfig(_Strict):
    """Steps, batching, seeding, validation cadence and device.

    threads: torch intra-op CPU threads (None = torch's default); 1 is much faster than
    the default on a CPU shared with other jobs, where spinning threads fight for cores.
    bn_batches: before each validation (so in every saved bundle), recompute a trained
    encoder's BatchNorm statistics over this many training batches (0 = keep the running
    averages; see :mod:`avseq.train.batchnorm`).
    beam_size, max_caption_len, rerank: how validation decodes captions, and the defaults of
    ``avseq eval`` for the bundles the run saves; rerank ``consensus`` picks, among the beam's
    hypotheses, the one the others agree with most (:mod:`avseq.models.consensus`).
    freeze_encoder_at: from this step on the frame encoder stops learning: its BatchNorm
    statistics are recomputed (``bn_batches``) and fixed, every training clip's features are
    computed once (kept in the data folder's feature cache) and the remaining steps train the
    sequence model alone, several times faster a step.
    captions_per_clip: captions: each training clip of a batch is taught this many of its
    captions at once (all of them when it has fewer), drawn anew each epoch. Its video is
    decoded and encoded once; the decoder runs once per caption, so each extra caption costs
    the decoder's share of a step again.
    captions_per_clip_frozen: the same while the frame encoder is frozen (after
    ``freeze_encoder_at``, or throughout for a frozen encoder), where the decoder is most of
    the step; default ``captions_per_clip``.
    grad_norms_per_layer: log each layer's gradient norm before clipping on every logged step
    (``grad_norm/<layer>`` columns); saturation_every: every this many steps, log the fraction of
    each recurrent layer's saturated gates on the first validation batch (``gate_sat/...``;
    None = never). See :mod:`avseq.train.diagnostics`; together they cost under 1% of the step time.
    card: at the end, write the model card and the encoder's feature statistics (the domain check
    of ``avseq run``) into the ``best`` and ``last`` bundles (:mod:`avseq.train.card`): one encoder
    pass over up to 256 training clips and the validation clips, read from the feature cache when
    the encoder is frozen.
    bf16: autocast the training step and validation to bfloat16 on CUDA (ignored on the CPU,
    which trains in float32).
    compile: run the training forward of the sequence model (``system.model``) and, while it
    trains, the frame encoder's CNN through ``torch.compile`` (:mod:`avseq.train.compiling`): the
    recurrent layers stay eager (cuDNN), the layers around them are compiled; the first steps
    pay the compilation (minutes on a CPU with inductor). Validation, decoding and feature
    caching run eagerly; checkpoints and bundles hold the same weights and keys as without it.
    compile_backend: ``inductor`` generates kernels (on the CPU it needs a C++ compiler, checked
    at start); ``aot_eager`` and ``eager`` only trace (no speed-up: for checking the wiring).
    ``tools/bench_train_precision.py`` measures fp32, bf16 and compile against each other.
    """

    steps: int = Field(default=1000, gt=0)
    batch_size: int = Field(default=16, gt=0)
    seed: int = 0
    val_every: int = Field(default=200, gt=0)
    log_every: int = Field(default=10, gt=0)
    device: str = "auto"
    bf16: bool = True
    compile: bool = False
    compile_backend: CompileBackend = "inductor"
    num_workers: int = Field(default=0, ge=0)
    threads: int | None = Field(default=None, gt=0)
    bn_batches: int = Field(default=0, ge=0)
    beam_size: int = Field(default=DEFAULT_BEAM_SIZE, gt=0)
    max_caption_len: int = Field(default=20, gt=0)
    rerank: Literal["score", "consensus"] = "score"
    val_metric: Literal["BLEU-4", "CIDEr", "val_loss", "onset_f1", "event_f1", "attr_acc"] | None = None
    progress: bool = True
    freeze_encoder_at: int | None = Field(default=None, ge=0)
    captions_per_clip: int = Field(default=1, ge=1)
    captions_per_clip_frozen: int | None = Field(default=None, ge=1)
    grad_norms_per_layer: bool = True
    saturation_every: int | None = Field(default=100, gt=0)
    card: bool = True


class TrainConfig(_Strict):
    """A whole training config. ``source`` is the file it was read from (for messages).

    ``system`` is the plain dict :func:`avseq.models.build_system` takes; its ``kind``
    (:data:`KINDS`) decides the loss, the validation metric and the evaluation.
    """

    data: DataConfig
    preprocessing: dict[str, Any] = {}
    system: dict[str, Any] = {}
    optim: OptimConfig = OptimConfig()
    loss: LossConfig = LossConfig()
    train: TrainLoopConfig = TrainLoopConfig()
    output_dir: Path = Path("runs/unnamed")
    source: str | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _system_kind(self) -> TrainConfig:
        kind = self.system.get("kind")
        if kind not in KINDS:
            raise ValueError(f"system.kind must be one of {', '.join(KINDS)}, got {kind!r}")
        model = self.system.get("model") or {}
        if isinstance(model, dict):
            try:
                check_model_options(kind, model, key="system.model")
            except ConfigError as err:
                raise ValueError(str(err)) from None
        for weight, head in (("onset_bce", "onset_head"), ("word_bce", "word_head")):
            if getattr(self.loss, weight) > 0 and not model.get(head):
                raise ValueError(f"loss.{weight} needs system.model.{head}: true (the head it trains)")
        if self.loss.self_critical_from is not None and kind not in CLIP_CAPTION_KINDS:
            raise ValueError(
                f"loss.self_critical_from trains captions of whole clips; this system is a {kind} model"
            )
        if self.data.mirror > 0 and kind not in ("sound", "classify") and not self.data.mirror_words:
            raise ValueError(
                f"data.mirror shows clips mirrored left-right, and a {kind} model's captions can name a "
                f"side: give data.mirror_words, the words to swap in a mirrored clip's captions "
                f"(e.g. {{left: right}})"
            )
        if self.data.mirror_words and (self.data.mirror == 0 or kind in ("sound", "classify")):
            why = (
                "needs data.mirror > 0"
                if self.data.mirror == 0
                else f"swaps caption words; a {kind} model has none"
            )
            raise ValueError(f"data.mirror_words {why}")
        if self.data.mirror > 0 and kind == "classify" and SIDED & set(self.attributes):
            raise ValueError(
                f"data.mirror shows clips mirrored left-right, and data.attributes names a side: "
                f"{', '.join(sorted(SIDED & set(self.attributes)))}"
            )
        if self.data.attributes is not None and kind != "classify":
            raise ValueError(
                f"data.attributes names what a classify model predicts; this system is a {kind} model"
            )
        for key in ("captions_per_clip", "captions_per_clip_frozen"):
            if (getattr(self.train, key) or 1) > 1 and kind not in CLIP_CAPTION_KINDS:
                raise ValueError(f"train.{key} trains captions of whole clips; this system is a {kind} model")
        for key, value in (
            ("loss.self_critical_from", self.loss.self_critical_from),
            ("train.freeze_encoder_at", self.train.freeze_encoder_at),
        ):
            if value is not None and value >= self.train.steps:
                raise ValueError(f"{key} is {value} but the run has only train.steps={self.train.steps}")
        return self

    @property
    def kind(self) -> Kind:
        return self.system["kind"]

    @property
    def attributes(self) -> tuple[str, ...]:
        """classify: the attributes predicted (``data.attributes`` or :data:`DEFAULT_ATTRIBUTES`)."""
        return self.data.attributes or DEFAULT_ATTRIBUTES

    def captions_per_clip(self, frozen: bool) -> int:
        """Captions taught per training clip and step, with the frame encoder frozen or not."""
        t = self.train
        return (t.captions_per_clip_frozen or t.captions_per_clip) if frozen else t.captions_per_clip

    @property
    def val_metric(self) -> str:
        """The metric that picks the best checkpoint (higher is better except val_loss)."""
        defaults = {
            "caption": "CIDEr",
            "frame_caption": "CIDEr",
            "dense_caption": "event_f1",
            "classify": "attr_acc",
        }
        default = defaults.get(self.kind, "onset_f1")
        return self.train.val_metric or default


# Keys that moved, so an old config gets told where to put them.
MOVED = {"loss.floor": "system.model.floor (the model renders quiet output from it)"}

TOP_LEVEL = tuple(k for k in TrainConfig.model_fields if k != "source")


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """A copy of ``raw`` with each ``KEY=VALUE`` set (intermediate mappings are created)."""
    return config.apply_overrides(raw, overrides, TOP_LEVEL, example="optim.lr=3e-4")


def config_from_dict(raw: dict, source: str = "<config>", base_dir: Path | None = None) -> TrainConfig:
    """Validate a raw mapping; relative manifest paths resolve against ``base_dir``."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: a training config must be a mapping, got {type(raw).__name__}")
    cfg = config.validate(TrainConfig, {**raw, "source": source}, source, moved=MOVED)
    if base_dir is None:
        return cfg
    data = cfg.data.model_copy(update={"manifests": {k: base_dir / p for k, p in cfg.data.manifests.items()}})
    return cfg.model_copy(update={"data": data})


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read a training config YAML, apply ``--set`` overrides, validate.

    ``path``: a file, or the name of a shipped config (``sound_synth``, see :mod:`avseq.shipped`).
    Relative paths inside ``data`` are relative to the config file, except in a shipped config
    (read by name or through ``configs/``), whose data paths are relative to the working
    directory, as a copy of it there (``avseq configs show NAME > my.yaml``) reads them;
    ``output_dir`` is relative to the working directory (where the run is started). Every
    problem is reported at once, each with its key path (see :mod:`avseq.config`).
    """
    path = shipped.resolve("config", path)
    raw = config.read_yaml(path, "config")
    raw = {} if raw is None else raw
    if isinstance(raw, dict):
        raw = apply_overrides(raw, overrides or [])
    base_dir = Path() if shipped.is_shipped(path, "config") else path.parent
    return config_from_dict(raw, str(path), base_dir)


def config_to_yaml(cfg: TrainConfig) -> str:
    """The resolved config as YAML (written into the run folder and bundle meta)."""
    doc = cfg.model_dump(mode="json", exclude={"source"})
    return yaml.safe_dump(doc, sort_keys=False)
