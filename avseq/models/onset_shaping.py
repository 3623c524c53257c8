"""How a sound model's onset head shapes the log-mel it renders (``SoundModel(onset_threshold=...)``).

The log-mel head alone renders a hit as a rise of the predicted level, which the onset picker
of the audio misses when it is soft and finds where nothing started when the level wobbles
(level 2 of the synthetic world, validation: onset precision 0.62, recall 0.69). The onset head
knows better where sounds start (its own peaks there: precision 0.85, recall 0.71). With a
threshold, it decides what the rendered log-mel shows:

- a sound starts at each RNN step whose onset probability is a local peak at or above the
  threshold (:func:`called_starts`);
- elsewhere the log-mel may hold or fall, not rise, in every band (:func:`shape_log_mel`);
- for ``GAP_SECONDS`` before each start it sits ``DIP`` below the start's level, so the start
  reads as an attack, even where the predicted rise was too soft to hear.
"""

from __future__ import annotations

import torch

from avseq.models.rnn import length_mask

GAP_SECONDS = 0.06
DIP = 4.0  # log-mel units (natural log): about 17 dB
_SEGMENT = 1e3  # beyond any log-mel range: keeps one run of frames' running minimum from the next


def called_starts(prob: torch.Tensor, lengths: torch.Tensor, threshold: float) -> torch.Tensor:
    """prob (B, T) onset probabilities, lengths (B,) -> (B, T) bool: the valid steps whose
    probability is at least ``threshold``, above the step before's and at least the step after's
    (a plateau starts once, at its first step)."""
    valid = length_mask(lengths.to(prob.device), prob.shape[1])
    p = prob.masked_fill(~valid, 0.0)
    before = torch.nn.functional.pad(p[:, :-1], (1, 0), value=-1.0)
    after = torch.nn.functional.pad(p[:, 1:], (0, 1), value=-1.0)
    return valid & (p >= threshold) & (p > before) & (p >= after)


def shape_log_mel(mel: torch.Tensor, free: torch.Tensor, gap: int, dip: float = DIP) -> torch.Tensor:
    """mel (B, T', n_mels); free (B, T') bool, the frames of steps where a sound starts -> the
    log-mel rendered from the onsets (module docstring): outside ``free`` frames each band keeps
    the running minimum since the last free frame; the ``gap`` frames before each run of free
    frames are lowered to ``dip`` below the run's first frame (never raised)."""
    segment = torch.cumsum(free.long(), dim=1).double()[..., None]  # a new run at each free frame
    offset = segment * _SEGMENT
    out = (torch.cummin(mel.double() - offset, dim=1).values + offset).to(mel.dtype)
    out = torch.where(free[..., None], mel, out)
    starts = free & ~torch.nn.functional.pad(free[:, :-1], (1, 0), value=False)
    for k in range(1, gap + 1):
        if k >= mel.shape[1]:
            break
        # frame j - k before a start at j
        before = torch.nn.functional.pad(starts[:, k:], (0, k), value=False)
        level = torch.nn.functional.pad(out[:, k:] - dip, (0, 0, 0, k))
        out = torch.where(before[..., None], torch.minimum(out, level), out)
    return out
