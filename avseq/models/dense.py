"""Dense captioner: a :class:`Captioner` plus an event-proposal head.

The proposal head is a many-to-many RNN over the frame features (bidirectional: a boundary
is clearer with what follows it) that scores every frame as an event's start, inside it, or
its end (logits (B, T, 3)); :func:`avseq.models.proposals.spans_from_scores` turns the scores
into spans, and the captioner captions the frames of each span as it captions a clip.
"""

from __future__ import annotations

import torch
from torch import nn

from avseq.models.captioner import Captioner
from avseq.models.rnn import Cell, MaskedRNN
from avseq.models.tokenizer import BOS_ID, EOS_ID, PAD_ID


class DenseCaptioner(Captioner):
    """Captioner (every argument as in :class:`Captioner`) with a proposal head.

    Args:
        proposal_hidden: hidden size of the proposal RNN (per direction).
        proposal_layers: its layers.
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
        proposal_hidden: int = 128,
        proposal_layers: int = 1,
        bos_id: int = BOS_ID,
        eos_id: int = EOS_ID,
        pad_id: int = PAD_ID,
    ) -> None:
        super().__init__(
            in_dim, vocab_size, hidden_size=hidden_size, embed_dim=embed_dim, num_layers=num_layers,
            cell=cell, dropout=dropout, bidirectional=bidirectional, attn_dim=attn_dim,
            word_head=word_head, bos_id=bos_id, eos_id=eos_id, pad_id=pad_id,
        )  # fmt: skip
        self.proposal_proj = nn.Linear(in_dim, proposal_hidden)
        self.proposal_rnn = MaskedRNN(cell, proposal_hidden, proposal_hidden, proposal_layers, dropout, True)
        self.proposal_out = nn.Linear(self.proposal_rnn.out_dim, 3)

    def propose(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """features (B, T, D), lengths (B,) -> per-frame logits (B, T, 3): start, inside, end."""
        x = self.dropout(torch.relu(self.proposal_proj(features)))
        return self.proposal_out(self.dropout(self.proposal_rnn(x, lengths)))
