"""Training clips seen in more than one way: left-right mirroring (``data.mirror``).

:class:`Mirror` wraps a training dataset (after :class:`~avseq.train.data.MemoryCache`, before
:class:`~avseq.data.feature_cache.CachedFeatureDataset`) and shows each clip mirrored left-right
in some epochs. Whether clip ``i`` is mirrored in epoch ``e`` is drawn from ``(seed, e, i)``
alone, so a resumed run sees the same clips the same way as an uninterrupted one. A frozen
encoder's features of a mirrored clip are cached apart from the clip's own (the variant is part
of the cache key), so the sequence model keeps seeing both after the encoder freezes.

Mirroring keeps a sound's timing and level and an object's colour, shape, material and action, so
it is label-preserving for sound models and for classifiers of those attributes (where the acting
object is, a classify example's ``positions``, is mirrored with the frames). Captions can name a
side ("slides left"): given ``words`` ({"left": "right"}), a mirrored clip's captions have each
word of a pair swapped for the other (:class:`WordSwap`) and their tokens encoded again; a level-1
clip's ``direction`` attribute names a side too.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

import numpy as np
import torch
from torch.utils.data import Dataset

from avseq.types import Frames

MIRRORED = "mirrored"
# keeps these draws apart from the datasets' caption draws of the same (seed, epoch, index)
_STREAM = 0x6D6972


def mirrored(frames: Frames) -> Frames:
    """``frames`` flipped left-right (the width axis)."""
    return Frames(frames.data.flip(-1), frames.pts)


class WordSwap:
    """Swaps whole words for their mirror images in a text: each pair of ``pairs`` both ways
    ({"left": "right"}: "slides left" -> "slides right", "right" -> "left"), matched without
    regard to case, a capitalised word staying capitalised."""

    def __init__(self, pairs: Mapping[str, str]) -> None:
        self.swap = {a.lower(): b.lower() for a, b in pairs.items()}
        self.swap.update({b: a for a, b in list(self.swap.items())})
        words = sorted(self.swap, key=len, reverse=True)
        self.pattern = (
            re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\b", re.IGNORECASE) if words else None
        )

    def __call__(self, text: str) -> str:
        if self.pattern is None:
            return text
        return self.pattern.sub(self._replace, text)

    def _replace(self, match: re.Match) -> str:
        word = match.group(0)
        other = self.swap[word.lower()]
        return other.capitalize() if word[:1].isupper() else other


class Mirror(Dataset):
    """``dataset``'s items, each mirrored left-right with probability ``p`` per epoch.

    variant(index): None or :data:`MIRRORED`, this epoch's view of the item; variants: every
    view an item can have (a feature cache fills them all); load_variant(index, variant): its
    frames in that view. words: pairs of words that name a side, swapped in a mirrored item's
    captions (its ``targets``, ``references`` and ``tokens``, encoded again by the dataset's
    ``tokenizer``).
    """

    variants = (None, MIRRORED)

    def __init__(self, dataset: Dataset, p: float, seed: int, words: Mapping[str, str] | None = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"mirror probability must be in [0, 1], got {p}")
        self.dataset, self.p, self.seed, self.epoch = dataset, p, seed, 0
        self.swap = WordSwap(words or {})

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name: str):
        if name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)  # entry, target, make_example, preprocessing...

    def set_epoch(self, epoch: int) -> None:
        """Draw the views of ``epoch`` (and pass the epoch on to a dataset that draws its own)."""
        self.epoch = epoch
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def variant(self, index: int) -> str | None:
        """How item ``index`` is seen in this epoch."""
        draw = np.random.default_rng([self.seed, self.epoch, index, _STREAM]).random()
        return MIRRORED if draw < self.p else None

    def load_variant(self, index: int, variant: str | None) -> Frames:
        """Frames of item ``index`` seen as ``variant``."""
        if variant not in self.variants:
            raise ValueError(f"unknown variant {variant!r}; known: {self.variants}")
        frames = self.dataset.load_video(index)
        return mirrored(frames) if variant == MIRRORED else frames

    def load_video(self, index: int) -> Frames:
        """Frames of item ``index`` as this epoch sees it."""
        return self.load_variant(index, self.variant(index))

    def make_example(self, index: int, video):
        """The inner dataset's example of item ``index`` with ``video`` (seen as this epoch sees the
        item), where the acting object is (a classify example's ``positions``) and its captions'
        side words mirrored with it."""
        example = self.dataset.make_example(index, video)
        if self.variant(index) != MIRRORED:
            return example
        changes = {}
        positions = getattr(example, "positions", None)
        if positions is not None:
            x, y = positions.unbind(-1)
            changes["positions"] = torch.stack([1.0 - x, y], dim=-1)
        if self.swap.pattern is not None and hasattr(example, "targets"):
            changes.update(self._captions(example))
        return dataclasses.replace(example, **changes) if changes else example

    def _captions(self, example) -> dict:
        targets = tuple(self.swap(t) for t in example.targets)
        tokens = tuple(torch.tensor(self.dataset.tokenizer.encode(t), dtype=torch.int64) for t in targets)
        references = tuple(
            self.swap(r) if isinstance(r, str) else tuple(self.swap(c) for c in r) for r in example.references
        )
        return {"targets": targets, "tokens": tokens, "references": references}

    def __getitem__(self, index: int):
        return self.make_example(index, self.load_video(index))
