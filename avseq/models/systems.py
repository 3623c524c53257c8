"""Systems: a frame encoder plus a sequence model, built from one plain JSON-able config.

A bundle stores ``system.config`` and the weights; ``build_system(config)`` rebuilds it:

    {"kind": "sound" | "caption" | "dense_caption" | "classify" | "frame_caption",
     "encoder": {"name": "compact", "out_dim": 128, ...build_encoder options...}
                or a list of such dicts (a ConcatEncoder: their features side by side);
                a member {"name": "grounded", ...} is a GroundedEncoder (avseq.models.grounding),
     "model": {...options of the model class, without in_dim (taken from the encoder)...}}

Every model takes ``cell`` (``"lstm"``, the default, ``"gru"`` or ``"rnn"``); the sound model,
the classifier and the captioner's frame encoder take ``bidirectional`` (a decoder runs forward
only: asking kind ``frame_caption`` for it is a ConfigError that says so).

Each system exposes ``features(frames, lengths)`` (run the CNN) and ``from_features(...)``
(everything after it), so cached features can skip the CNN.
"""

from __future__ import annotations

import copy
import inspect
import json

import torch
from torch import nn

from avseq.errors import ConfigError
from avseq.models.beam import DEFAULT_BEAM_SIZE, Hypothesis
from avseq.models.captioner import Captioner
from avseq.models.classifier import ClipClassifier
from avseq.models.consensus import RERANKS, Rerank, consensus_order
from avseq.models.dense import DenseCaptioner
from avseq.models.encoders import ConcatEncoder, FrameEncoder, build_encoder
from avseq.models.frame_caption import FrameToCaption
from avseq.models.grounding import GROUNDED, GroundedEncoder
from avseq.models.grounding import load_weights as load_grounded_weights
from avseq.models.proposals import Span, span_features, spans_from_scores
from avseq.models.rnn import check_cell
from avseq.models.sound import SoundModel


class _System(nn.Module):
    """A frame encoder plus a sequence model; ``config`` is the dict it was built from."""

    kind = ""

    def __init__(self, encoder: FrameEncoder, model: nn.Module, config: dict | None = None) -> None:
        super().__init__()
        self.encoder, self.model, self.config = encoder, model, config or {}

    def features(
        self, frames: torch.Tensor, lengths: torch.Tensor, cached: torch.Tensor | None = None
    ) -> torch.Tensor:
        """frames (B, T, 3, H, W) in [0, 1], lengths (B,) -> per-frame features (B, T, D).
        cached: the frozen members' features of a partly frozen encoder (see
        :meth:`~avseq.models.encoders.ConcatEncoder.forward`)."""
        if cached is None:
            return self.encoder(frames, lengths)
        return self.encoder(frames, lengths, cached)


class SoundSystem(_System):
    """frames (B, T, 3, H, W) in [0, 1] -> log-mel (B, n_mels, T') at the model's mel frame rate."""

    kind = "sound"

    def from_features(
        self,
        features: torch.Tensor,
        lengths: torch.Tensor,
        out_lengths: torch.Tensor | None = None,
        with_onsets: bool = False,
        raw: bool = False,
    ) -> tuple[torch.Tensor, ...]:
        """features (B, T, D), lengths (B,) -> (log-mel (B, n_mels, T'max), mel lengths (B,)),
        plus the onset logits when ``with_onsets``; ``raw``: no quiet rendering, what the loss
        compares (see :class:`~avseq.models.SoundModel`)."""
        return self.model(features, lengths, out_lengths, with_onsets, raw)

    def forward(
        self, frames: torch.Tensor, lengths: torch.Tensor, out_lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """frames (B, T, 3, H, W), lengths (B,) -> (log-mel (B, n_mels, T'max), mel lengths (B,))."""
        return self.from_features(self.features(frames, lengths), lengths, out_lengths)


class _CaptioningSystem(_System):
    """Decoding shared by the captioning systems: greedy when ``beam_size == 1``, else beam search,
    optionally reranked by consensus.

    Subclasses say what the model decodes from: :meth:`_from_features` (cached per-frame
    features) and :meth:`_from_frames` (frames, running the CNN as little as needed).
    """

    def _from_features(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple:
        raise NotImplementedError

    def _from_frames(self, frames: torch.Tensor, lengths: torch.Tensor) -> tuple:
        raise NotImplementedError

    def from_features(
        self,
        features: torch.Tensor,
        lengths: torch.Tensor,
        tokens: torch.Tensor,
        with_words: bool = False,
        rows: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing from features (B, T, D), lengths (B,): tokens (R, L) -> logits (R, L, V),
        plus the bag-of-words logits (R, V) when ``with_words`` (models with a word head);
        ``rows`` (R,): each caption's clip when clips have several (see :class:`~avseq.models.Captioner`)."""
        return self.model(*self._from_features(features, lengths), tokens, with_words, rows)

    def _decode(
        self, inputs: tuple, beam_size: int, max_len: int, length_penalty: float, n_best: int, rerank: Rerank
    ):
        if rerank not in RERANKS:
            raise ValueError(f"Invalid rerank {rerank!r}. Supported: {', '.join(RERANKS)}")
        if beam_size == 1 and n_best == 1:
            return [[h] for h in self.model.greedy(*inputs, max_len=max_len)]
        keep = beam_size if rerank == "consensus" else n_best
        hyps = self.model.beam_search(
            *inputs, beam_size=beam_size, max_len=max_len, length_penalty=length_penalty, n_best=keep
        )
        if rerank == "consensus":
            hyps = [consensus_order(h)[:n_best] for h in hyps]
        return hyps

    @torch.no_grad()
    def generate_from_features(
        self,
        features: torch.Tensor,
        lengths: torch.Tensor,
        beam_size: int = DEFAULT_BEAM_SIZE,
        max_len: int = 20,
        length_penalty: float = 0.0,
        n_best: int = 1,
        rerank: Rerank = "score",
    ) -> list[list[Hypothesis]]:
        """features (B, T, D), lengths (B,) -> per clip ``n_best`` hypotheses, best first.

        ``length_penalty`` is the GNMT alpha of :mod:`avseq.models.beam` (0 = raw log-prob).
        ``rerank``: ``score`` keeps the beam's order; ``consensus`` reorders the whole beam by
        expected agreement with the other hypotheses (:mod:`avseq.models.consensus`).
        """
        inputs = self._from_features(features, lengths)
        return self._decode(inputs, beam_size, max_len, length_penalty, n_best, rerank)

    def sample_from_features(
        self, features: torch.Tensor, lengths: torch.Tensor, samples: int, max_len: int = 20
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """features (B, T, D), lengths (B,) -> ``samples`` captions drawn per clip, with gradients:
        tokens (B * samples, L), token lengths (B * samples,) and log_prob (B * samples,)
        (:func:`avseq.models.beam.sample_decode`; clip-major rows)."""
        return self.model.sample(*self._from_features(features, lengths), samples=samples, max_len=max_len)

    @torch.no_grad()
    def generate(
        self,
        frames: torch.Tensor,
        lengths: torch.Tensor,
        beam_size: int = DEFAULT_BEAM_SIZE,
        max_len: int = 20,
        length_penalty: float = 0.0,
        n_best: int = 1,
        rerank: Rerank = "score",
    ) -> list[list[Hypothesis]]:
        """frames (B, T, 3, H, W) in [0, 1], lengths (B,) -> per clip ``n_best`` hypotheses, best first
        (options as in :meth:`generate_from_features`)."""
        inputs = self._from_frames(frames, lengths)
        return self._decode(inputs, beam_size, max_len, length_penalty, n_best, rerank)


class CaptionSystem(_CaptioningSystem):
    """frames (B, T, 3, H, W) in [0, 1] -> caption token ids through a :class:`Captioner`."""

    kind = "caption"

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: frames (B, T, 3, H, W), lengths (B,), tokens (B, L) -> logits (B, L, V)."""
        return self.from_features(self.features(frames, lengths), lengths, tokens)

    def _from_features(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple:
        return features, lengths

    def _from_frames(self, frames: torch.Tensor, lengths: torch.Tensor) -> tuple:
        return self.features(frames, lengths), lengths


class DenseCaptionSystem(CaptionSystem):
    """A :class:`CaptionSystem` whose model also proposes event spans (:class:`DenseCaptioner`):
    it captions a whole clip as its parent does, or each proposed event of it
    (:meth:`caption_events_from_features`)."""

    kind = "dense_caption"

    def proposal_logits(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """features (B, T, D), lengths (B,) -> per-frame logits (B, T, 3): start, inside, end."""
        return self.model.propose(features, lengths)

    @torch.no_grad()
    def propose_from_features(
        self, features: torch.Tensor, lengths: torch.Tensor, threshold: float = 0.5, max_events: int = 10
    ) -> list[list[Span]]:
        """features (B, T, D), lengths (B,) -> per clip its event spans ``(first, last)`` frames,
        best first (:func:`avseq.models.proposals.spans_from_scores`)."""
        probs = torch.sigmoid(self.proposal_logits(features, lengths).float())
        return [
            spans_from_scores(probs[i, : int(n)], threshold, max_spans=max_events)
            for i, n in enumerate(lengths.tolist())
        ]

    @torch.no_grad()
    def caption_spans_from_features(
        self, features: torch.Tensor, spans: list[list[Span]], **decoding
    ) -> list[list[list[Hypothesis]]]:
        """features (B, T, D) and per clip its spans -> per clip, per span, its hypotheses
        (``decoding`` as in :meth:`generate_from_features`)."""
        flat = [(b, first, last) for b, clip in enumerate(spans) for first, last in clip]
        if not flat:
            return [[] for _ in spans]
        data, lengths = span_features(features, flat)
        hyps = iter(self.generate_from_features(data, lengths.to(data.device), **decoding))
        return [[next(hyps) for _ in clip] for clip in spans]

    def caption_events_from_features(
        self,
        features: torch.Tensor,
        lengths: torch.Tensor,
        threshold: float = 0.5,
        max_events: int = 10,
        **decoding,
    ) -> list[list[tuple[Span, list[Hypothesis]]]]:
        """features (B, T, D), lengths (B,) -> per clip, per proposed event, its span and hypotheses."""
        spans = self.propose_from_features(features, lengths, threshold, max_events)
        hyps = self.caption_spans_from_features(features, spans, **decoding)
        return [list(zip(s, h, strict=True)) for s, h in zip(spans, hyps, strict=True)]


class ClassifySystem(_System):
    """frames (B, T, 3, H, W) in [0, 1] -> class logits (B, C) through a :class:`ClipClassifier`:
    one softmax per attribute (:attr:`attributes`, name -> class names), side by side."""

    kind = "classify"

    @property
    def attributes(self) -> dict[str, tuple[str, ...]]:
        """Attribute name -> its class names, in the order of the logits."""
        return self.model.attributes

    def from_features(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """features (B, T, D), lengths (B,) -> logits (B, C)."""
        return self.model(features, lengths)

    def attribute_logits(self, features: torch.Tensor, lengths: torch.Tensor) -> dict[str, torch.Tensor]:
        """features (B, T, D), lengths (B,) -> attribute name -> its logits (B, C_a)."""
        return self.model.split(self.from_features(features, lengths))

    @torch.no_grad()
    def probabilities_from_features(
        self, features: torch.Tensor, lengths: torch.Tensor
    ) -> list[dict[str, dict[str, float]]]:
        """features (B, T, D), lengths (B,) -> per clip, attribute -> class -> probability
        (each attribute's softmax, classes in the model's order)."""
        probs = {
            k: torch.softmax(v.float(), -1).cpu() for k, v in self.attribute_logits(features, lengths).items()
        }
        return [
            {k: dict(zip(self.attributes[k], p[i].tolist(), strict=True)) for k, p in probs.items()}
            for i in range(features.shape[0])
        ]

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """frames (B, T, 3, H, W), lengths (B,) -> logits (B, C)."""
        return self.from_features(self.features(frames, lengths), lengths)


class FrameCaptionSystem(_CaptioningSystem):
    """Captions one frame per clip, the middle valid one, through a :class:`FrameToCaption`.

    Its methods take the same arguments as :class:`CaptionSystem`'s, so pipelines and
    feature caches treat both alike: per-frame features (B, T, D) plus lengths, from
    which the middle valid frame (index ``(length - 1) // 2``) is used. The frame-level
    paths encode that one frame only, so a motion encoder would see no motion there, and a
    ``frame_stride`` encoder's features would come from another frame than the cached path's:
    both refused.
    """

    kind = "frame_caption"

    def __init__(self, encoder: FrameEncoder, model: nn.Module, config: dict | None = None) -> None:
        if any(isinstance(m, FrameEncoder) and (m.motion or m.frame_stride > 1) for m in encoder.modules()):
            raise ConfigError(
                "kind 'frame_caption' encodes one frame per clip, so its encoder cannot use motion "
                "or a frame_stride"
            )
        super().__init__(encoder, model, config)

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """frames (B, T, 3, H, W), lengths (B,), tokens (B, L) -> logits (B, L, V)."""
        return self.model(*self._from_frames(frames, lengths), tokens)

    def _from_features(self, features: torch.Tensor, lengths: torch.Tensor) -> tuple:
        return (middle_step(features, lengths),)

    def _from_frames(self, frames: torch.Tensor, lengths: torch.Tensor) -> tuple:
        middle = middle_step(frames, lengths)[:, None]
        return (self.encoder(middle, torch.ones_like(lengths))[:, 0],)


def middle_step(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The middle valid step of each clip: x (B, T, ...) -> (B, ...), index ``(length - 1) // 2``."""
    return x[torch.arange(x.shape[0], device=x.device), (lengths.to(x.device) - 1) // 2]


SYSTEMS: dict[str, tuple[type[nn.Module], type[nn.Module]]] = {
    "sound": (SoundSystem, SoundModel),
    "caption": (CaptionSystem, Captioner),
    "dense_caption": (DenseCaptionSystem, DenseCaptioner),
    "classify": (ClassifySystem, ClipClassifier),
    "frame_caption": (FrameCaptionSystem, FrameToCaption),
}
CONFIG_KEYS = ("kind", "encoder", "model")


def build_system(config: dict, *, load_weights: bool = True) -> nn.Module:
    """Build a system from its plain config (see the module docstring); keeps it as ``.config``.

    ``load_weights=False`` ignores ``encoder.weights`` (random init): bundles pass it
    because their safetensors file holds every parameter, so no download is attempted.
    Raises ConfigError naming the bad key and the allowed choices.
    """
    _check_config(config)
    system_cls, model_cls = SYSTEMS[config["kind"]]
    members = [_build_member(c, load_weights) for c in encoder_configs(config["encoder"])]
    encoder = members[0] if isinstance(config["encoder"], dict) else ConcatEncoder(members)
    model_opts = dict(config.get("model", {}))
    if model_opts.pop("in_dim", encoder.out_dim) != encoder.out_dim:
        raise ConfigError(
            f"model.in_dim {config['model']['in_dim']} differs from the encoder's out_dim {encoder.out_dim}"
        )
    _check_model_options(config["kind"], model_cls, model_opts)
    try:
        model = model_cls(encoder.out_dim, **model_opts)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"model: {err}") from None
    return system_cls(encoder, model, copy.deepcopy(config))


def encoder_configs(encoder: dict | list) -> list[dict]:
    """A system config's ``encoder`` value as a list of member configs (one for a single encoder)."""
    return [encoder] if isinstance(encoder, dict) else list(encoder)


def _build_member(options: dict, load_weights: bool) -> FrameEncoder | GroundedEncoder:
    options = dict(options)
    name = options.pop("name")
    if name == GROUNDED:
        weights = options.pop("weights", None)
        try:
            encoder = GroundedEncoder(**options)
        except TypeError as err:
            raise ConfigError(f"encoder {GROUNDED!r}: {err}") from None
        if weights is not None and load_weights:
            load_grounded_weights(encoder, weights)
        return encoder
    if not load_weights:
        options.pop("weights", None)
    return build_encoder(name, **options)


def _check_config(config: dict) -> None:
    if not isinstance(config, dict):
        raise ConfigError(f"system config must be a dict, got {type(config).__name__}")
    for key in config:
        if key not in CONFIG_KEYS:
            raise ConfigError(f"Unknown system config key {key!r}. Supported: {', '.join(CONFIG_KEYS)}")
    kind = config.get("kind")
    if kind not in SYSTEMS:
        raise ConfigError(f"Invalid system kind {kind!r}. Supported: {', '.join(SYSTEMS)}")
    encoder = config.get("encoder")
    members = encoder_configs(encoder) if isinstance(encoder, (dict, list)) else []
    if not members or not all(isinstance(e, dict) and isinstance(e.get("name"), str) for e in members):
        raise ConfigError(
            "system config key 'encoder' must be a dict with a 'name' (e.g. {'name': 'compact'}), "
            "or a list of such dicts (their features are concatenated)"
        )
    if not isinstance(config.get("model", {}), dict):
        raise ConfigError("system config key 'model' must be a dict of model options")
    try:
        json.dumps(config)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"system config must be JSON-able: {err}") from None


def check_model_options(kind: str, options: dict, key: str = "model") -> None:
    """ConfigError unless every key of ``options`` is an option of ``kind``'s model class, and a
    ``cell`` is one of :data:`avseq.models.rnn.CELLS`; ``key`` is where ``options`` sit, for the
    message (``system.model`` in a training config). Options a model refuses by design
    (``refused_options``, e.g. a bidirectional decoder) are told why. Required options are
    checked when the system is built (training fills some in from the data)."""
    if kind not in SYSTEMS:
        raise ConfigError(f"Invalid system kind {kind!r}. Supported: {', '.join(SYSTEMS)}")
    model_cls = SYSTEMS[kind][1]
    refused = getattr(model_cls, "refused_options", {})
    allowed = [p.name for p in _model_parameters(model_cls)]
    for name in options:
        if name in refused:
            raise ConfigError(f"{key}.{name}: kind {kind!r} has no such option: {refused[name]}")
        if name not in allowed:
            raise ConfigError(
                f"Unknown model option {name!r} for kind {kind!r}. Supported: {', '.join(allowed)}"
            )
    if "cell" in options:
        check_cell(options["cell"], f"{key}.cell")


def _check_model_options(kind: str, model_cls: type, options: dict) -> None:
    check_model_options(kind, options)
    for p in _model_parameters(model_cls):
        if p.default is inspect.Parameter.empty and p.name not in options:
            raise ConfigError(f"model option {p.name!r} is required for kind {kind!r}")


def _model_parameters(model_cls: type) -> list[inspect.Parameter]:
    return list(inspect.signature(model_cls.__init__).parameters.values())[2:]  # skip self, in_dim
