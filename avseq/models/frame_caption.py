"""One-to-many captioner: a single frame's feature starts an RNN decoder that emits a caption."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from avseq.models.beam import DEFAULT_BEAM_SIZE, Hypothesis, State, StepwiseSearch
from avseq.models.rnn import ONE_WAY_DECODER, Cell, RecurrentState, make_rnn
from avseq.models.tokenizer import BOS_ID, EOS_ID, PAD_ID


class FrameToCaption(StepwiseSearch, nn.Module):
    """feature (B, D) -> caption tokens (show-and-tell style, no attention).

    The feature sets the initial decoder state (h, and c for an LSTM; ``cell``: ``"lstm"``,
    ``"gru"`` or ``"rnn"``); decoding goes through the same :mod:`avseq.models.beam` code as
    :class:`Captioner`. Its only RNN is the decoder, so it has no ``bidirectional`` option
    (``refused_options`` says why, for config errors).
    """

    refused_options: ClassVar[dict[str, str]] = {"bidirectional": ONE_WAY_DECODER}

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
        bos_id: int = BOS_ID,
        eos_id: int = EOS_ID,
        pad_id: int = PAD_ID,
    ) -> None:
        super().__init__()
        self.bos_id, self.eos_id, self.pad_id = bos_id, eos_id, pad_id
        self.vocab_size = vocab_size
        # the frame's feature is normalized before it sets the state: a CNN's pooled features run to
        # ~8 per channel, which put every tanh of the initial state at +-1 (saturated), so almost no
        # gradient reached the CNN (1e-7 at its first layer) and the captions ignored the frame
        self.norm = nn.LayerNorm(in_dim)
        self.init_state = RecurrentState(cell, in_dim, hidden_size, num_layers)
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.decoder = make_rnn(cell, embed_dim, hidden_size, num_layers, dropout)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, vocab_size)

    def encode(self, features: torch.Tensor) -> State:
        """features (B, D) -> initial state, each entry (B, layers, H)."""
        if features.dim() != 2:
            raise ValueError(f"FrameToCaption takes one feature per clip (B, D), got {tuple(features.shape)}")
        return self.init_state(self.dropout(self.norm(features)))

    def _step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        out, rnn_state = self.decoder(self.embed(tokens)[:, None, :], self.init_state.join(state))
        return self.out(self.dropout(out[:, 0])), self.init_state.split(rnn_state)

    def forward(
        self,
        features: torch.Tensor,
        tokens: torch.Tensor,
        with_words: bool = False,
        rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Teacher forcing: features (B, D), tokens (R, L) from ``<bos>`` -> logits (R, L, V);
        ``rows`` (R,): the clip of each caption when clips have several (default: one each).
        ``with_words`` is refused: this model has no bag-of-words head."""
        if with_words:
            raise ValueError("with_words needs a bag-of-words head; FrameToCaption has none")
        state = self.encode(features)
        if rows is not None:
            state = {k: v[rows] for k, v in state.items()}
        out, _ = self.decoder(self.embed(tokens), self.init_state.join(state))
        return self.out(self.dropout(out))

    def greedy(self, features: torch.Tensor, max_len: int = 20) -> list[Hypothesis]:
        """Greedy caption per clip, at most ``max_len`` tokens."""
        return self._greedy(self.encode(features), features.shape[0], max_len)

    def beam_search(
        self,
        features: torch.Tensor,
        beam_size: int = DEFAULT_BEAM_SIZE,
        max_len: int = 20,
        length_penalty: float = 0.0,
        n_best: int = 1,
    ) -> list[list[Hypothesis]]:
        """Beam search; per clip the ``n_best`` hypotheses sorted by GNMT-normalized score."""
        state = self.encode(features)
        return self._beam(state, features.shape[0], beam_size, max_len, length_penalty, n_best)

    def sample(
        self, features: torch.Tensor, samples: int = 5, max_len: int = 20
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``samples`` sampled captions per clip, with gradients (as :meth:`Captioner.sample`)."""
        return self._sample(self.encode(features), features.shape[0], samples, max_len)
