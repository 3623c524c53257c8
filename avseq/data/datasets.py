"""Datasets of typed examples over manifest entries, and the collate functions that batch them.

- :class:`SoundDataset`: video frames in, the log-mel of the clip's own audio
  track out (self-supervised: the audio is the target, never an input).
- :class:`CaptionDataset`: video frames in, one or more of the clip's captions as token ids out.
- :class:`ClassifyDataset`: a clip's frames (or an event span's) in, its attributes' classes out.

Either dataset yields frames, or per-frame features when wrapped by
:class:`~avseq.data.feature_cache.CachedFeatureDataset` (or frames with the cached features of a
partly frozen encoder, :class:`FramesWithCache`). :func:`collate_sound`
and :func:`collate_caption` pad a list of examples into a :class:`SoundBatch` /
:class:`CaptionBatch` holding a ``FrameBatch`` (or ``Features``) with lengths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, get_args

import numpy as np
import torch
from torch.utils.data import Dataset

from avseq.bundles.preprocessing import Preprocessing
from avseq.data.clips import clip_duration, load_frames, load_target
from avseq.data.manifest import ManifestEntry
from avseq.errors import ConfigError
from avseq.types import Frames

CaptionChoice = Literal["random", "first", "all"]


@dataclass(frozen=True, repr=False)
class FramesWithCache:
    """Frames of one clip for a partly frozen frame encoder: ``frames`` (T, 3, H, W) for the
    members that train, and ``cached`` (T, D), the frozen members' features read from the
    feature cache (see ``ConcatEncoder.frozen_part``)."""

    frames: Frames
    cached: torch.Tensor

    def __post_init__(self) -> None:
        n = len(self.frames)
        if self.cached.dim() != 2 or len(self.cached) != n:
            shape = tuple(self.cached.shape)
            raise ValueError(f"FramesWithCache.cached must be (T, D) with T={n}, got {shape}")

    def __len__(self) -> int:
        return len(self.frames)

    def __repr__(self) -> str:
        return f"FramesWithCache(frames={self.frames!r}, cached={tuple(self.cached.shape)})"


# Frames (T, 3, H, W) float, frames with cached features, or features (T, D)
Video = Frames | FramesWithCache | torch.Tensor


class TextEncoder(Protocol):
    """What the caption dataset needs from a tokenizer (e.g. :class:`avseq.models.Tokenizer`)."""

    pad_id: int

    def encode(self, text: str) -> list[int]: ...


@dataclass(frozen=True, repr=False)
class SoundExample:
    """One clip for sound synthesis. video: Frames (T, 3, H, W) float or features (T, D);
    target: (n_mels, T') log-mel at ``frame_rate`` frames/s; duration in seconds; onsets: the
    manifest's annotated sound times (s), None when it has no events."""

    id: str
    video: Video
    target: torch.Tensor
    frame_rate: float
    duration: float
    onsets: tuple[float, ...] | None = None

    @classmethod
    def of(
        cls, entry: ManifestEntry, video: Video, target: torch.Tensor, rate: float, duration: float
    ) -> SoundExample:
        """The example of manifest ``entry``: its id and annotated onsets."""
        return cls(entry.id, video, target, rate, duration, entry.annotated_onsets)

    def __repr__(self) -> str:
        shape = tuple(self.target.shape)
        return f"SoundExample(id={self.id!r}, video={_video_repr(self.video)}, target={shape})"


@dataclass(frozen=True, repr=False)
class CaptionExample:
    """One clip for captioning. video as in :class:`SoundExample`; targets: the captions to
    train on (one, or several of the clip's); tokens: one (L,) int64 tensor per target (with
    BOS/EOS if the tokenizer adds them); references: all captions of the clip."""

    id: str
    video: Video
    tokens: tuple[torch.Tensor, ...]
    targets: tuple[str, ...]
    references: tuple[str, ...]

    def __repr__(self) -> str:
        lengths = [len(t) for t in self.tokens]
        return f"CaptionExample(id={self.id!r}, video={_video_repr(self.video)}, tokens={lengths})"


def _video_repr(video: Video) -> str:
    return f"features{tuple(video.shape)}" if isinstance(video, torch.Tensor) else repr(video)


class ClipDataset(Dataset):
    """Base of the datasets: entries + preprocessing, frames decoded per item.

    Subclasses implement :meth:`make_example` from an index and the clip's video
    (frames or cached features), so a feature cache can stand in for decoding.
    """

    def __init__(self, entries: Sequence[ManifestEntry], preprocessing: Preprocessing) -> None:
        if not entries:
            raise ConfigError("a dataset needs at least one manifest entry, got none")
        self.entries = list(entries)
        self.preprocessing = preprocessing

    def __len__(self) -> int:
        return len(self.entries)

    def entry(self, index: int) -> ManifestEntry:
        """The manifest entry behind item ``index``."""
        return self.entries[index]

    def load_video(self, index: int) -> Frames:
        """Frames of item ``index``: float (T, 3, H, W) in [0, 1] per the preprocessing."""
        return load_frames(self.entry(index).path, self.preprocessing)

    def make_example(self, index: int, video: Video):
        raise NotImplementedError

    def __getitem__(self, index: int):
        return self.make_example(index, self.load_video(index))


class SoundDataset(ClipDataset):
    """Frames -> log-mel of the clip's own audio, aligned to the video timeline.

    ``preprocessing.mel`` must name the mel recipe. The audio track is decoded
    only for the target; models never see it.
    """

    def __init__(self, entries: Sequence[ManifestEntry], preprocessing: Preprocessing) -> None:
        super().__init__(entries, preprocessing)
        if preprocessing.recipe is None:
            raise ConfigError("SoundDataset needs preprocessing.mel (a mel recipe name or dict); got none")

    def target(self, index: int) -> tuple[torch.Tensor, float]:
        """(log-mel (n_mels, T'), duration in seconds) of item ``index``."""
        entry = self.entry(index)
        duration = clip_duration(entry.path, entry.duration)
        return load_target(entry.path, self.preprocessing, duration), duration

    def make_example(self, index: int, video: Video) -> SoundExample:
        target, duration = self.target(index)
        rate = self.preprocessing.recipe.frame_rate
        return SoundExample.of(self.entry(index), video, target, rate, duration)


class CaptionDataset(ClipDataset):
    """Frames -> captions as token ids.

    caption_choice: "random" = ``captions_per_clip`` distinct captions per clip (all of them
    when it has fewer), drawn anew each epoch (call :meth:`set_epoch`); "first" = always the
    first; "all" = one item per (clip, caption) pair. Several captions of a clip share one
    decoding of its video and one encoding (the batch's ``rows`` name each caption's clip).
    Clips without captions are refused.
    """

    def __init__(
        self,
        entries: Sequence[ManifestEntry],
        preprocessing: Preprocessing,
        tokenizer: TextEncoder,
        caption_choice: CaptionChoice = "random",
        seed: int = 0,
        captions_per_clip: int = 1,
    ) -> None:
        super().__init__(entries, preprocessing)
        if caption_choice not in get_args(CaptionChoice):
            raise ConfigError(
                f"Invalid caption_choice {caption_choice!r}. Supported: {', '.join(get_args(CaptionChoice))}"
            )
        empty = [e.id for e in self.entries if not e.captions]
        if empty:
            raise ConfigError(
                f"{len(empty)} clips have no captions (first: {empty[0]!r}); captioning needs them"
            )
        self.tokenizer, self.caption_choice, self.seed, self.epoch = tokenizer, caption_choice, seed, 0
        self._pairs = [(i, j) for i, e in enumerate(self.entries) for j in range(len(e.captions))]
        self.set_captions_per_clip(captions_per_clip)

    def set_epoch(self, epoch: int) -> None:
        """Redraw the random caption choice for ``epoch``."""
        self.epoch = epoch

    def set_captions_per_clip(self, captions_per_clip: int) -> None:
        """Draw this many captions per clip from now on (e.g. once the frame encoder is frozen)."""
        if captions_per_clip < 1 or (captions_per_clip > 1 and self.caption_choice != "random"):
            raise ConfigError(
                f"captions_per_clip must be >= 1, and above 1 only with caption_choice 'random'; "
                f"got {captions_per_clip} with {self.caption_choice!r}"
            )
        self.captions_per_clip = captions_per_clip

    def __len__(self) -> int:
        return len(self._pairs) if self.caption_choice == "all" else len(self.entries)

    def _locate(self, index: int) -> tuple[int, list[int]]:
        """(clip, indices of the captions item ``index`` trains on)."""
        if self.caption_choice == "all":
            clip, j = self._pairs[index]
            return clip, [j]
        if self.caption_choice == "first":
            return index, [0]
        n = len(self.entries[index].captions)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        if self.captions_per_clip == 1:  # integers(n): the draw the shipped recipes trained with
            return index, [int(rng.integers(n))]
        return index, rng.permutation(n)[: self.captions_per_clip].tolist()

    def entry(self, index: int) -> ManifestEntry:
        return self.entries[self._locate(index)[0]]

    def make_example(self, index: int, video: Video) -> CaptionExample:
        clip, chosen = self._locate(index)
        entry = self.entries[clip]
        targets = tuple(entry.captions[j] for j in chosen)
        tokens = tuple(torch.tensor(self.tokenizer.encode(c), dtype=torch.int64) for c in targets)
        return CaptionExample(entry.id, video, tokens, targets, entry.captions)


@dataclass(frozen=True, repr=False)
class DenseCaptionExample:
    """One clip for dense captioning. video as in :class:`SoundExample`; per event (in the
    manifest's order): ``spans`` its frames ``(first, last)`` at the preprocessing's fps,
    ``times`` its ``(start, end)`` seconds, ``tokens`` the (L,) int64 ids of the caption it trains
    on, ``targets`` that caption, ``references`` all its captions."""

    id: str
    video: Video
    spans: tuple[tuple[int, int], ...]
    times: tuple[tuple[float, float], ...]
    tokens: tuple[torch.Tensor, ...]
    targets: tuple[str, ...]
    references: tuple[tuple[str, ...], ...]

    def __repr__(self) -> str:
        return (
            f"DenseCaptionExample(id={self.id!r}, video={_video_repr(self.video)}, spans={list(self.spans)})"
        )


class DenseCaptionDataset(ClipDataset):
    """Frames -> the clip's events: their spans and captions (level-2 manifests: events with
    ``end`` and ``captions``).

    caption_choice: "random" = one of each event's captions, drawn anew each epoch (call
    :meth:`set_epoch`); "first" = always the first. ``preprocessing.fps`` times the spans;
    clips without captioned span events are refused, naming the first.
    """

    def __init__(
        self,
        entries: Sequence[ManifestEntry],
        preprocessing: Preprocessing,
        tokenizer: TextEncoder,
        caption_choice: Literal["random", "first"] = "random",
        seed: int = 0,
    ) -> None:
        super().__init__(entries, preprocessing)
        if preprocessing.fps is None:
            raise ConfigError("dense captioning times events by preprocessing.fps; got none (num_frames)")
        if caption_choice not in ("random", "first"):
            raise ConfigError(f"Invalid caption_choice {caption_choice!r}. Supported: random, first")
        bare = [e.id for e in self.entries if not span_events(e)]
        if bare:
            raise ConfigError(
                f"clip {bare[0]!r} (and {len(bare) - 1} more) has no events with an end and captions; "
                f"dense captioning trains on level-2 manifests (avseq synth --level 2)"
            )
        self.tokenizer, self.caption_choice, self.seed, self.epoch = tokenizer, caption_choice, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Redraw the random caption choice for ``epoch``."""
        self.epoch = epoch

    def make_example(self, index: int, video: Video) -> DenseCaptionExample:
        from avseq.models.proposals import frame_span

        entry, fps, frames = self.entry(index), self.preprocessing.fps, len(video)
        events = span_events(entry)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        picks = [0 if self.caption_choice == "first" else int(rng.integers(len(e.captions))) for e in events]
        targets = tuple(e.captions[j] for e, j in zip(events, picks, strict=True))
        return DenseCaptionExample(
            entry.id,
            video,
            tuple(frame_span(e.time, e.end, fps, frames) for e in events),
            tuple((e.time, e.end) for e in events),
            tuple(torch.tensor(self.tokenizer.encode(c), dtype=torch.int64) for c in targets),
            targets,
            tuple(tuple(e.captions) for e in events),
        )


def span_events(entry: ManifestEntry) -> list:
    """The events of ``entry`` that dense captioning trains on: spans (with an ``end``) with captions."""
    return [e for e in entry.events if e.end is not None and e.captions]


IGNORE_LABEL = -100  # a label no class matches (unknown or missing): cross-entropy skips it
# the attributes a level-2 event carries (a level-1 clip's ``attributes`` hold these and more)
EVENT_ATTRIBUTES = ("material", "action", "colour", "shape", "actor", "kind", "object")


@dataclass(frozen=True)
class LabelledSpan:
    """One classification example of a clip: its ``span`` ``(start, end)`` seconds (None: the
    whole clip) and its ``labels``, attribute -> value (a missing attribute is absent)."""

    span: tuple[float, float] | None
    labels: dict[str, str]
    track: tuple[tuple[float, float, float], ...] = ()


def labelled_spans(entry: ManifestEntry, attributes: Sequence[str]) -> list[LabelledSpan]:
    """The classification examples of ``entry``: each event with an ``end`` (level-2 clips), its
    frames labelled with that event's attributes; else the whole clip, labelled with the clip's
    ``attributes`` (level 1). Values become strings (a count 2 is the class ``"2"``).

    An event whose span another event covers for more than :data:`AMBIGUOUS_OVERLAP` of its length
    is left out: its frames show two events at once, and nothing in them says which one the labels
    are of (on level 2's default overlap, 59% of the events of 240 training clips).
    """
    spans = [e for e in entry.events if e.end is not None]
    if not spans:
        values = {a: entry.attributes.get(a) for a in attributes}
        return [LabelledSpan(None, {a: str(v) for a, v in values.items() if v not in (None, "")})]
    out = []
    for event in spans:
        if ambiguous(event, spans):
            continue
        values = {a: getattr(event, a, "") if a in EVENT_ATTRIBUTES else "" for a in attributes}
        labels = {a: str(v) for a, v in values.items() if v != ""}
        out.append(LabelledSpan((event.time, event.end), labels, event.track))
    return out


AMBIGUOUS_OVERLAP = 0.5


def ambiguous(event, events) -> bool:
    """Another of ``events`` covers more than :data:`AMBIGUOUS_OVERLAP` of ``event``'s span: its frames
    show two events at once (a classification example left out)."""
    length = max(event.end - event.time, 1e-9)
    return any(
        min(event.end, other.end) - max(event.time, other.time) > AMBIGUOUS_OVERLAP * length
        for other in events
        if other is not event
    )


def attribute_classes(entries: Sequence[ManifestEntry], attributes: Sequence[str]) -> dict[str, list[str]]:
    """Attribute -> the sorted values it takes over ``entries``' examples (:func:`labelled_spans`),
    attributes sorted by name as a classifier orders them: the class lists it learns. An attribute with
    no value in any example raises ConfigError naming it and the attributes the clips carry."""
    seen: dict[str, set[str]] = {a: set() for a in attributes}
    for entry in entries:
        for item in labelled_spans(entry, attributes):
            for name, value in item.labels.items():
                seen[name].add(value)
    empty = [a for a, values in seen.items() if not values]
    if empty:
        level1 = sorted({k for e in entries for k in e.attributes})
        raise ConfigError(
            f"attribute {empty[0]!r} has no value in any training clip; clips carry (level 1) "
            f"{', '.join(level1) or 'none'}, events with an end (level 2) {', '.join(EVENT_ATTRIBUTES)}"
        )
    return {a: sorted(seen[a]) for a in sorted(seen)}


@dataclass(frozen=True, repr=False)
class ClassifyExample:
    """One example for classification. id: the clip's id, with ``#k`` for its k-th event span;
    video as in :class:`SoundExample`, cut to the span; labels: (A,) int64, the class index of
    each attribute (:data:`IGNORE_LABEL` where the value is missing or unknown); positions:
    (T, 2) float32, where the event's object is on each frame (x, y as fractions of the frame's
    width and height, from :attr:`~avseq.data.manifest.Event.track`; NaN where the event has no
    track or the frame lies outside it), or None when the video is features (no frames to see)."""

    id: str
    video: Video
    labels: torch.Tensor
    positions: torch.Tensor | None = None

    def __repr__(self) -> str:
        return (
            f"ClassifyExample(id={self.id!r}, video={_video_repr(self.video)}, labels={self.labels.tolist()})"
        )


class ClassifyDataset(ClipDataset):
    """Frames -> class indices of several attributes at once, one item per :func:`labelled_spans`
    example: a level-1 clip whole, or each event span of a level-2 clip (its frames from the
    event's start to its end at ``preprocessing.fps``).

    classes: attribute -> class names (:func:`attribute_classes` of the training entries), in
    the order of the labels. :meth:`load_video` decodes the item's whole clip and
    :meth:`make_example` cuts the span out of it, so a feature cache keys (and encodes) each
    clip once whatever its events.
    """

    def __init__(
        self,
        entries: Sequence[ManifestEntry],
        preprocessing: Preprocessing,
        classes: dict[str, Sequence[str]],
    ) -> None:
        super().__init__(entries, preprocessing)
        if not classes:
            raise ConfigError("a classify dataset needs at least one attribute, got none")
        self.classes = {a: {c: i for i, c in enumerate(names)} for a, names in classes.items()}
        self._items = [
            (i, item) for i, e in enumerate(self.entries) for item in labelled_spans(e, list(classes))
        ]
        self._ids = [
            e.id if item.span is None else f"{e.id}#{k}"
            for e in self.entries
            for k, item in enumerate(labelled_spans(e, list(classes)))
        ]
        if preprocessing.fps is None and any(item.span is not None for _, item in self._items):
            raise ConfigError("event spans are cut by preprocessing.fps; got none (num_frames)")

    def __len__(self) -> int:
        return len(self._items)

    def entry(self, index: int) -> ManifestEntry:
        return self.entries[self._items[index][0]]

    def item_id(self, index: int) -> str:
        """The example's id: its clip's, with ``#k`` for the clip's k-th event span."""
        return self._ids[index]

    def make_example(self, index: int, video: Video) -> ClassifyExample:
        item = self._items[index][1]
        labels = [self.classes[a].get(item.labels.get(a, ""), IGNORE_LABEL) for a in self.classes]
        if item.span is not None:
            from avseq.models.proposals import frame_span

            first, last = frame_span(*item.span, self.preprocessing.fps, len(video))
            video = cut_video(video, first, last + 1)
        labels = torch.tensor(labels, dtype=torch.int64)
        return ClassifyExample(self.item_id(index), video, labels, track_positions(item.track, video))


def track_positions(track: Sequence[Sequence[float]], video: Video) -> torch.Tensor | None:
    """(T, 2) float32 positions of ``track`` (``(t, x, y)`` rows) at the times of ``video``'s
    frames, linearly interpolated; NaN before its first or after its last row, and everywhere
    when it is empty. None when ``video`` holds features only (no frame times)."""
    frames = video.frames if isinstance(video, FramesWithCache) else video
    if not isinstance(frames, Frames):
        return None
    times = frames.pts.double().numpy()
    if not len(track):
        return torch.full((len(times), 2), float("nan"))
    t, x, y = np.asarray(track, dtype=np.float64).T
    step = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    inside = (times >= t[0] - step / 2) & (times <= t[-1] + step / 2)
    out = np.stack([np.interp(times, t, x), np.interp(times, t, y)], 1)
    out[~inside] = np.nan
    return torch.from_numpy(out.astype(np.float32))


def cut_video(video: Video, start: int, stop: int) -> Video:
    """Steps ``start:stop`` of frames, frames with cached features, or features (T, D)."""
    if isinstance(video, Frames):
        return Frames(video.data[start:stop], video.pts[start:stop])
    if isinstance(video, FramesWithCache):
        return FramesWithCache(cut_video(video.frames, start, stop), video.cached[start:stop])
    return video[start:stop]
