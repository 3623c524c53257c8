"""Additive (Bahdanau) attention over a padded sequence of encoder states."""

from __future__ import annotations

import torch
from torch import nn


class AdditiveAttention(nn.Module):
    """``score(q, m_t) = v^T tanh(W_k m_t + W_q q)``, softmax over the valid steps only.

    Keys ``W_k m`` depend only on the memory, so :meth:`keys` computes them once per
    clip and every decoding step reuses them.
    """

    def __init__(self, query_dim: int, memory_dim: int, attn_dim: int) -> None:
        super().__init__()
        self.key_proj = nn.Linear(memory_dim, attn_dim, bias=False)
        self.query_proj = nn.Linear(query_dim, attn_dim)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """memory (N, T, M) -> keys (N, T, A)."""
        return self.key_proj(memory)

    def forward(
        self, query: torch.Tensor, keys: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """query (N, Q), keys (N, T, A), memory (N, T, M), mask (N, T) bool (True = valid).

        Returns context (N, M) and weights (N, T) that sum to 1 over valid steps and
        are 0 at padded ones.
        """
        energy = self.v(torch.tanh(keys + self.query_proj(query)[:, None, :])).squeeze(-1)
        weights = energy.masked_fill(~mask, float("-inf")).softmax(-1)
        context = torch.bmm(weights[:, None, :], memory).squeeze(1)
        return context, weights
