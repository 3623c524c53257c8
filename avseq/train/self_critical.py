"""Self-critical sequence training: a captioner learns from the CIDEr-D of its own samples.

Cross-entropy teaches a captioner to spread probability over the ways a clip is
described, and decoding then picks among them by probability, not by how well a
caption agrees with the references. Self-critical training (Rennie et al., 2017)
optimizes the evaluation metric directly with the policy gradient: for each clip
it samples ``samples`` captions, scores each by CIDEr-D against the clip's
references, and raises the log-probability of the samples that beat the baseline,
lowering the others. The baseline of a sample is the mean reward of the clip's
other samples (Luo, 2020, "A better variant of self-critical sequence training"),
so no extra greedy decode is needed and the gradient is unbiased.

Document frequencies come from the training captions (:class:`CaptionReward`), so
the reward of a caption does not depend on which clips share its batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn

from avseq.metrics.cider import CiderD
from avseq.models import Tokenizer


class CaptionReward:
    """CIDEr-D of sampled token ids against a clip's reference captions.

    references: every training clip's captions (the corpus of document frequencies);
    tokenizer: the captioner's, which turns references into the ids the samples are made of.
    Call with tokens (N, L), lengths (N,) as :func:`avseq.models.beam.sample_decode` returns
    them and N tuples of reference captions -> rewards (N,) float32 on the CPU.
    """

    def __init__(self, references: Iterable[Sequence[str]], tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        self.cider = CiderD([self._ids(c) for c in refs] for refs in references)
        self._vectors: dict[str, object] = {}

    def _ids(self, caption: str) -> list[int]:
        return self.tokenizer.encode(caption, add_bos_eos=False)

    def _reference(self, caption: str):
        if caption not in self._vectors:
            self._vectors[caption] = self.cider.vector(self._ids(caption))
        return self._vectors[caption]

    def __call__(
        self, tokens: torch.Tensor, lengths: torch.Tensor, references: Sequence[Sequence[str]]
    ) -> torch.Tensor:
        if len(references) != tokens.shape[0]:
            raise ValueError(f"{tokens.shape[0]} captions but {len(references)} reference sets")
        eos = self.tokenizer.eos_id
        rewards = []
        for seq, n, refs in zip(tokens.tolist(), lengths.tolist(), references, strict=True):
            seq = seq[:n]
            seq = seq[:-1] if seq and seq[-1] == eos else seq
            rewards.append(self.cider.score(seq, [self._reference(r) for r in refs]))
        return torch.tensor(rewards, dtype=torch.float32)


def self_critical_loss(
    system: nn.Module,
    features: torch.Tensor,
    lengths: torch.Tensor,
    references: Sequence[Sequence[str]],
    reward: CaptionReward,
    samples: int,
    max_len: int,
) -> torch.Tensor:
    """Policy-gradient loss of ``samples`` sampled captions per clip (scalar tensor).

    features (B, T, D), lengths (B,), references: B tuples of captions. ``samples`` must be
    >= 2 (each sample's baseline is the mean reward of the clip's others). The loss is
    ``-mean((reward - baseline) * log P(sample))``: its value hovers around 0; the rewards
    themselves show in the validation CIDEr.
    """
    if samples < 2:
        raise ValueError(f"self-critical training needs >= 2 samples per clip, got {samples}")
    tokens, token_lengths, log_prob = system.sample_from_features(features, lengths, samples, max_len)
    clip_refs = [refs for refs in references for _ in range(samples)]
    rewards = reward(tokens, token_lengths, clip_refs).view(-1, samples).to(log_prob.device)
    baseline = (rewards.sum(1, keepdim=True) - rewards) / (samples - 1)
    return -((rewards - baseline).flatten() * log_prob).mean()
