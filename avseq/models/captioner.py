"""Video captioner: RNN encoder over frame features, RNN decoder with additive attention.

The SA-LSTM / S2VT family: frame features (B, T, D) are projected and encoded by a
(optionally bidirectional) LSTM, GRU or tanh RNN (``cell``, shared by encoder and decoder);
the one-way decoder starts from the masked mean of the encoder states and, at each step,
attends over them (padded frames masked) with the previous top-layer hidden state as the query.
Decoding (greedy and beam search) goes through :mod:`avseq.models.beam`.
"""

from __future__ import annotations

import torch
from torch import nn

from avseq.models.attention import AdditiveAttention
from avseq.models.beam import DEFAULT_BEAM_SIZE, Hypothesis, State, StepwiseSearch
from avseq.models.rnn import Cell, MaskedRNN, RecurrentState, length_mask, make_rnn, masked_mean
from avseq.models.tokenizer import BOS_ID, EOS_ID, PAD_ID


class Captioner(StepwiseSearch, nn.Module):
    """Encoder-decoder captioner with additive attention.

    Args:
        in_dim: feature size D of the frame encoder.
        vocab_size: V, including the special tokens (``<pad>=0 <bos>=1 <eos>=2 <unk>=3``).
        hidden_size, num_layers, cell, dropout: shared by the encoder and decoder RNNs
            (cell: ``"lstm"``, ``"gru"`` or ``"rnn"``).
        embed_dim: word embedding size.
        bidirectional: the encoder's direction(s); the memory size is ``hidden_size * 2`` if True.
            The decoder is autoregressive and always runs forward.
        attn_dim: attention size (default ``hidden_size``).
        word_head: add a bag-of-words head on the clip summary (the masked mean of the
            encoder states): one logit per vocabulary word saying whether the caption
            uses it. Training it (``loss.word_bce``) makes the video encoding carry the
            content words (colours, objects, counts) that the next-word loss, which a
            language prior satisfies first, teaches slowly; decoding ignores it.
    """

    def __init__(
        self,
        in_dim: int,
        vocab_size: int,
        *,
        hidden_size: int = 256,
        embed_dim: int = 128,
        num_layers: int = 1,
        cell: Cell = "lstm",
        dropout: float = 0.0,
        bidirectional: bool = False,
        attn_dim: int | None = None,
        word_head: bool = False,
        bos_id: int = BOS_ID,
        eos_id: int = EOS_ID,
        pad_id: int = PAD_ID,
    ) -> None:
        super().__init__()
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        self.vocab_size = vocab_size
        mem_dim = hidden_size * (2 if bidirectional else 1)
        self.input_proj = nn.Linear(in_dim, hidden_size)
        self.encoder = MaskedRNN(cell, hidden_size, hidden_size, num_layers, dropout, bidirectional)
        self.attention = AdditiveAttention(hidden_size, mem_dim, attn_dim or hidden_size)
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.decoder = make_rnn(cell, embed_dim + mem_dim, hidden_size, num_layers, dropout)
        self.init_state = RecurrentState(cell, mem_dim, hidden_size, num_layers)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size + mem_dim, vocab_size)
        self.words = nn.Linear(mem_dim, vocab_size) if word_head else None

    def encode(self, features: torch.Tensor, lengths: torch.Tensor) -> State:
        """features (B, T, D), lengths (B,) -> decoder state: memory (B, T, M), keys (B, T, A),
        mask (B, T) bool, and the initial h (and c), each (B, layers, H)."""
        x = self.dropout(torch.relu(self.input_proj(features)))
        memory = self.encoder(x, lengths)
        mask = length_mask(lengths.to(features.device), features.shape[1])
        state = self.init_state(masked_mean(memory, lengths))
        return {"memory": memory, "keys": self.attention.keys(memory), "mask": mask, **state}

    def _step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """tokens (N,) -> logits (N, V) for the next token, and the new state."""
        context, _ = self.attention(state["h"][:, -1], state["keys"], state["memory"], state["mask"])
        x = torch.cat([self.embed(tokens), context], -1)[:, None, :]
        out, rnn_state = self.decoder(x, self.init_state.join(state))
        logits = self.out(self.dropout(torch.cat([out[:, 0], context], -1)))
        return logits, {**state, **self.init_state.split(rnn_state)}

    def forward(
        self,
        features: torch.Tensor,
        lengths: torch.Tensor,
        tokens: torch.Tensor,
        with_words: bool = False,
        rows: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing. features (B, T, D), lengths (B,), tokens (R, L) starting with ``<bos>``.

        Returns logits (R, L, V): ``logits[:, i]`` predicts the token after ``tokens[:, i]``.
        For a padded caption ``seq = [<bos>, w1..wn, <eos>, <pad>...]`` pass ``seq[:, :-1]``
        and score against ``seq[:, 1:]`` with :func:`caption_loss`. ``rows`` (R,): the clip
        of each caption, when clips have several (default: caption i is clip i's); each clip
        is encoded once. ``with_words`` (needs ``word_head``) also returns the bag-of-words
        logits (R, V).
        """
        if with_words and self.words is None:
            raise ValueError("with_words needs a Captioner built with word_head=True")
        state = self.encode(features, lengths)
        words = self.words(self.dropout(masked_mean(state["memory"], lengths))) if with_words else None
        if rows is not None:
            state = {k: v[rows] for k, v in state.items()}
            words = words[rows] if words is not None else None
        steps = []
        for i in range(tokens.shape[1]):
            logits, state = self._step(tokens[:, i], state)
            steps.append(logits)
        return (torch.stack(steps, 1), words) if with_words else torch.stack(steps, 1)

    def greedy(self, features: torch.Tensor, lengths: torch.Tensor, max_len: int = 20) -> list[Hypothesis]:
        """Greedy captions: one :class:`Hypothesis` per clip, at most ``max_len`` tokens."""
        return self._greedy(self.encode(features, lengths), features.shape[0], max_len)

    def beam_search(
        self,
        features: torch.Tensor,
        lengths: torch.Tensor,
        beam_size: int = DEFAULT_BEAM_SIZE,
        max_len: int = 20,
        length_penalty: float = 0.0,
        n_best: int = 1,
    ) -> list[list[Hypothesis]]:
        """Beam search; per clip the ``n_best`` hypotheses sorted by GNMT-normalized score."""
        state = self.encode(features, lengths)
        return self._beam(state, features.shape[0], beam_size, max_len, length_penalty, n_best)

    def sample(
        self, features: torch.Tensor, lengths: torch.Tensor, samples: int = 5, max_len: int = 20
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``samples`` sampled captions per clip, with gradients: tokens (B * samples, L),
        lengths (B * samples,), log_prob (B * samples,) (see :func:`avseq.models.beam.sample_decode`)."""
        return self._sample(self.encode(features, lengths), features.shape[0], samples, max_len)


def caption_loss(
    logits: torch.Tensor, targets: torch.Tensor, pad_id: int = PAD_ID, label_smoothing: float = 0.0
) -> torch.Tensor:
    """Mean cross-entropy over non-pad targets. logits (B, L, V), targets (B, L) -> scalar."""
    return nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]),
        targets.reshape(-1),
        ignore_index=pad_id,
        label_smoothing=label_smoothing,
    )


def word_loss(word_logits: torch.Tensor, tokens: torch.Tensor, special: tuple[int, ...]) -> torch.Tensor:
    """Bag-of-words loss: BCE of word logits (B, V) against the words of ``tokens`` (B, L).

    A word is positive when it occurs in the clip's caption; ids in ``special``
    (padding, begin/end, unknown) are neither positive nor scored.
    """
    present = torch.zeros_like(word_logits).scatter_(1, tokens, 1.0)
    keep = torch.ones(word_logits.shape[1], dtype=torch.bool, device=word_logits.device)
    keep[list(special)] = False
    return nn.functional.binary_cross_entropy_with_logits(word_logits[:, keep], present[:, keep])
