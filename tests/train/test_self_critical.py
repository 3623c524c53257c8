"""Self-critical training: the CIDEr-D reward of sampled ids, the baseline and the gradient's sign."""

import pytest
import torch
from torch import nn

from avseq.metrics.cider import CiderD
from avseq.models import Tokenizer
from avseq.train.self_critical import CaptionReward, self_critical_loss

REFS = [
    ("a red ball bounces twice", "the red ball hits the floor twice"),
    ("a stick hits the blue cube once", "the blue cube is struck once by a stick"),
]
TOKENIZER = Tokenizer.build([c for refs in REFS for c in refs])


def _ids(text: str) -> list[int]:
    return TOKENIZER.encode(text, add_bos_eos=False) + [TOKENIZER.eos_id]


class FixedSamples(nn.Module):
    """A stand-in system whose 'samples' are given captions, each with a learnable log-probability."""

    def __init__(self, captions: list[str]) -> None:
        super().__init__()
        ids = [_ids(c) for c in captions]
        width = max(map(len, ids))
        self.tokens = torch.tensor([s + [TOKENIZER.eos_id] * (width - len(s)) for s in ids])
        self.lengths = torch.tensor([len(s) for s in ids])
        self.log_prob = nn.Parameter(torch.zeros(len(captions)))

    def sample_from_features(self, features, lengths, samples, max_len):
        assert self.tokens.shape[0] == features.shape[0] * samples
        return self.tokens, self.lengths, self.log_prob


def test_reward_is_cider_d_of_the_ids_before_eos_against_the_clips_references():
    reward = CaptionReward(REFS, TOKENIZER)
    tokens = torch.tensor(
        [_ids("a red ball bounces twice") + [TOKENIZER.eos_id] * 2, _ids("a stick hits")[:-1] + [5] * 5]
    )
    got = reward(tokens, torch.tensor([6, 3]), [REFS[0], REFS[1]])
    direct = CiderD([[TOKENIZER.encode(c, add_bos_eos=False) for c in refs] for refs in REFS])
    want = [
        direct.score(
            TOKENIZER.encode("a red ball bounces twice", add_bos_eos=False),
            [TOKENIZER.encode(c, add_bos_eos=False) for c in REFS[0]],
        ),
        direct.score(
            TOKENIZER.encode("a stick hits", add_bos_eos=False),
            [TOKENIZER.encode(c, add_bos_eos=False) for c in REFS[1]],
        ),
    ]
    assert got.tolist() == pytest.approx(want, abs=1e-6)
    assert got[0] > got[1] > 0
    with pytest.raises(ValueError, match="2 captions but 1 reference sets"):
        reward(tokens, torch.tensor([6, 3]), [REFS[0]])


def test_better_than_the_other_samples_is_made_more_likely():
    captions = ["a red ball bounces twice", "a red ball", "the blue cube"]  # one clip, three samples
    system = FixedSamples(captions)
    reward = CaptionReward(REFS, TOKENIZER)
    r = reward(system.tokens, system.lengths, [REFS[0]] * 3)
    loss = self_critical_loss(system, torch.zeros(1, 2, 4), torch.tensor([2]), [REFS[0]], reward, 3, 20)
    loss.backward()
    baseline = (r.sum() - r) / 2  # each sample's baseline: the mean of the others
    torch.testing.assert_close(system.log_prob.grad, -(r - baseline) / 3)
    assert system.log_prob.grad[0] < 0 < system.log_prob.grad[2]  # descent raises the best, lowers the worst
    with pytest.raises(ValueError, match=">= 2 samples per clip, got 1"):
        self_critical_loss(system, torch.zeros(3, 2, 4), torch.tensor([2] * 3), [REFS[0]] * 3, reward, 1, 20)
