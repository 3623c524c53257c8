"""Greedy decoding, batched beam search and sampling over any step-wise decoder.

A decoder exposes one step, ``step(tokens (N,), state) -> (log_probs (N, V), state)``,
where ``state`` is a dict of tensors whose first dimension is N (clips, or
clips x beams). Both :class:`~avseq.models.captioner.Captioner` and
:class:`~avseq.models.frame_caption.FrameToCaption` decode through this module.

Scores use GNMT length normalization (Wu et al., 2016):
``score = log P(Y) / ((5 + |Y|) / 6) ** alpha``, where ``|Y|`` counts the
generated tokens including the final ``<eos>`` and ``alpha = length_penalty``
(0 gives the raw log-probability). Beam search ranks candidates by this
normalized score at every step and stops once every beam has emitted ``<eos>``
or ``max_len`` tokens were generated, so with ``beam_size=1`` it picks exactly
the tokens greedy decoding picks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from avseq.models.defaults import DEFAULT_BEAM_SIZE  # noqa: F401  (re-exported)

State = dict[str, torch.Tensor]
StepFn = Callable[[torch.Tensor, State], tuple[torch.Tensor, State]]


@dataclass(frozen=True)
class Hypothesis:
    """One decoded sequence: token ids without ``<bos>``/``<eos>``, its normalized score
    and its raw log-probability (sum over the generated tokens, ``<eos>`` included)."""

    tokens: list[int]
    score: float
    log_prob: float = 0.0


def length_penalty_factor(length: torch.Tensor, alpha: float) -> torch.Tensor:
    """GNMT length penalty ``((5 + length) / 6) ** alpha`` (elementwise, float)."""
    return ((5.0 + length.to(torch.float32)) / 6.0) ** alpha


def without_tokens(logits: torch.Tensor, ids: tuple[int, ...]) -> torch.Tensor:
    """logits (N, V) with the columns ``ids`` set to -inf (tokens a decoder must never emit)."""
    logits = logits.clone()
    logits[:, list(ids)] = float("-inf")
    return logits


def _check_args(max_len: int, beam_size: int = 1, n_best: int = 1) -> None:
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1, got {max_len}")
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    if not 1 <= n_best <= beam_size:
        raise ValueError(f"n_best must be in [1, beam_size={beam_size}], got {n_best}")


def _device(state: State) -> torch.device:
    return next(iter(state.values())).device if state else torch.device("cpu")


def _strip(seq: list[int], length: int, eos_id: int) -> list[int]:
    seq = seq[:length]
    return seq[:-1] if seq and seq[-1] == eos_id else seq


@torch.no_grad()
def greedy_decode(
    step: StepFn,
    state: State,
    batch_size: int,
    *,
    max_len: int,
    bos_id: int,
    eos_id: int,
    length_penalty: float = 0.0,
) -> list[Hypothesis]:
    """Pick the most likely token at each step; one :class:`Hypothesis` per clip.

    Stops when every clip has emitted ``<eos>`` or after ``max_len`` steps, so each
    result has at most ``max_len`` tokens.
    """
    _check_args(max_len)
    device = _device(state)
    tokens = torch.full((batch_size,), bos_id, dtype=torch.long, device=device)
    finished = torch.zeros(batch_size, dtype=torch.bool, device=device)
    log_prob = torch.zeros(batch_size, device=device)
    lengths = torch.zeros(batch_size, dtype=torch.long, device=device)
    picked = []
    for _ in range(max_len):
        logp, state = step(tokens, state)
        best, tokens = logp.max(-1)
        log_prob += torch.where(finished, torch.zeros_like(best), best)
        lengths += (~finished).long()
        picked.append(tokens)
        finished |= tokens == eos_id
        if bool(finished.all()):
            break
    seqs = torch.stack(picked, 1).tolist()
    scores = log_prob / length_penalty_factor(lengths, length_penalty)
    return [
        Hypothesis(_strip(seqs[b], int(lengths[b]), eos_id), float(scores[b]), float(log_prob[b]))
        for b in range(batch_size)
    ]


@torch.no_grad()
def beam_search(
    step: StepFn,
    state: State,
    batch_size: int,
    *,
    beam_size: int,
    max_len: int,
    bos_id: int,
    eos_id: int,
    length_penalty: float = 0.0,
    n_best: int = 1,
) -> list[list[Hypothesis]]:
    """Batched beam search; per clip, the ``n_best`` hypotheses sorted by score (best first).

    ``state`` holds one entry per clip (first dim ``batch_size``); it is repeated
    ``beam_size`` times here. A finished beam keeps its score and is extended only
    by ``<eos>`` at zero cost, so it competes with the live beams until the end.
    Hypotheses never exceed ``max_len`` tokens. Fewer than ``n_best`` come back
    only when the vocabulary admits fewer distinct sequences.
    """
    _check_args(max_len, beam_size, n_best)
    b_size, k = batch_size, beam_size
    device = _device(state)
    state = {name: t.repeat_interleave(k, 0) for name, t in state.items()}
    scores = torch.full((b_size, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # only the first beam is live at the start: no duplicate expansions
    lengths = torch.zeros((b_size, k), dtype=torch.long, device=device)
    finished = torch.zeros((b_size, k), dtype=torch.bool, device=device)
    history = torch.zeros((b_size, k, 0), dtype=torch.long, device=device)
    tokens = torch.full((b_size * k,), bos_id, dtype=torch.long, device=device)
    offsets = torch.arange(b_size, device=device)[:, None] * k
    for t in range(max_len):
        logp, new_state = step(tokens, state)
        vocab = logp.shape[-1]
        eos_only = torch.full((vocab,), float("-inf"), device=device)
        eos_only[eos_id] = 0.0
        logp = torch.where(finished[..., None], eos_only, logp.view(b_size, k, vocab))
        cand = scores[..., None] + logp  # (B, K, V)
        cand_len = lengths + (~finished).long()
        norm = cand / length_penalty_factor(cand_len, length_penalty)[..., None]
        flat = norm.view(b_size, k * vocab).topk(k, dim=1).indices  # (B, K)
        beam, tok = flat // vocab, flat % vocab
        scores = cand.view(b_size, k * vocab).gather(1, flat)
        lengths = cand_len.gather(1, beam)
        finished = finished.gather(1, beam) | (tok == eos_id)
        history = torch.cat([history.gather(1, beam[..., None].expand(-1, -1, t)), tok[..., None]], -1)
        rows = (beam + offsets).view(-1)
        state = {name: v.index_select(0, rows) for name, v in new_state.items()}
        tokens = tok.view(-1)
        if bool(finished.all()):
            break
    return _collect(history, scores, lengths, length_penalty, n_best, eos_id)


def _collect(
    history: torch.Tensor,
    log_probs: torch.Tensor,
    lengths: torch.Tensor,
    alpha: float,
    n_best: int,
    eos_id: int,
) -> list[list[Hypothesis]]:
    """Turn the final beams (B, K, t) into sorted per-clip hypothesis lists."""
    final = log_probs / length_penalty_factor(lengths, alpha)
    order = final.argsort(dim=1, descending=True, stable=True)
    seqs, final_l, logp_l, len_l = history.tolist(), final.tolist(), log_probs.tolist(), lengths.tolist()
    out = []
    for b, row in enumerate(order.tolist()):
        hyps = [
            Hypothesis(_strip(seqs[b][i], len_l[b][i], eos_id), final_l[b][i], logp_l[b][i])
            for i in row
            if final_l[b][i] != float("-inf")
        ]
        out.append(hyps[:n_best])
    return out


def sample_decode(
    step: StepFn,
    state: State,
    batch_size: int,
    *,
    samples: int,
    max_len: int,
    bos_id: int,
    eos_id: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw ``samples`` captions per clip from the decoder's distribution (ancestral sampling).

    Returns tokens (B * samples, L) int64 (clip-major: rows ``b * samples .. (b + 1) * samples - 1``
    belong to clip ``b``), each ending at its ``<eos>`` and padded with ``eos_id`` after it;
    lengths (B * samples,) counting the generated tokens with the ``<eos>`` (at most ``max_len``);
    and log_prob (B * samples,), the sum of the sampled tokens' log-probabilities, which keeps
    its graph (gradients flow into the decoder, as self-critical training needs). The draws use
    torch's global RNG.
    """
    _check_args(max_len)
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    device = _device(state)
    n = batch_size * samples
    state = {name: t.repeat_interleave(samples, 0) for name, t in state.items()}
    tokens = torch.full((n,), bos_id, dtype=torch.long, device=device)
    finished = torch.zeros(n, dtype=torch.bool, device=device)
    lengths = torch.zeros(n, dtype=torch.long, device=device)
    log_prob = torch.zeros(n, device=device)
    picked = []
    for _ in range(max_len):
        logp, state = step(tokens, state)
        drawn = torch.multinomial(logp.detach().exp(), 1)[:, 0]
        tokens = torch.where(finished, torch.full_like(drawn, eos_id), drawn)
        log_prob = log_prob + torch.where(finished, 0.0, logp.gather(1, tokens[:, None])[:, 0])
        lengths = lengths + (~finished).long()
        picked.append(tokens)
        finished = finished | (tokens == eos_id)
        if bool(finished.all()):
            break
    return torch.stack(picked, 1), lengths, log_prob


class StepwiseSearch:
    """Greedy search, beam search and sampling for a decoder module with ``_step``, ``bos_id``,
    ``eos_id`` and ``pad_id``.

    ``_step(tokens (N,), state) -> (logits (N, V), state)`` is the decoder's own step; decoders mix
    this in and call ``_greedy`` / ``_beam`` / ``_sample`` with their encoded state, so every decoder
    searches through the one implementation above.
    """

    bos_id: int
    eos_id: int
    pad_id: int
    _step: StepFn

    def decode_step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One decoding step: log-probs (N, V) and the new state.

        ``<pad>`` and ``<bos>`` get probability 0, so decoded captions never contain them.
        """
        logits, state = self._step(tokens, state)
        return without_tokens(logits, (self.pad_id, self.bos_id)).log_softmax(-1), state

    def _greedy(self, state: State, batch_size: int, max_len: int) -> list[Hypothesis]:
        return greedy_decode(
            self.decode_step, state, batch_size, max_len=max_len, bos_id=self.bos_id, eos_id=self.eos_id
        )

    def _sample(
        self, state: State, batch_size: int, samples: int, max_len: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return sample_decode(
            self.decode_step, state, batch_size, samples=samples, max_len=max_len,
            bos_id=self.bos_id, eos_id=self.eos_id,
        )  # fmt: skip

    def _beam(
        self, state: State, batch_size: int, beam_size: int, max_len: int, length_penalty: float, n_best: int
    ) -> list[list[Hypothesis]]:
        return beam_search(
            self.decode_step,
            state,
            batch_size,
            beam_size=beam_size,
            max_len=max_len,
            bos_id=self.bos_id,
            eos_id=self.eos_id,
            length_penalty=length_penalty,
            n_best=n_best,
        )
