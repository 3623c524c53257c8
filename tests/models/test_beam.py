"""Greedy decoding, beam search and sampling on small random step functions, checked by brute force."""

import itertools

import pytest
import torch

from avseq.models.beam import beam_search, greedy_decode, length_penalty_factor, sample_decode

BOS, EOS, V = 1, 2, 4


class ToyDecoder:
    """A seeded tanh RNN over tokens: the next-token distribution depends on the whole prefix."""

    def __init__(self, seed: int, hidden: int = 6) -> None:
        g = torch.Generator().manual_seed(seed)
        self.w = torch.randn(hidden, hidden, generator=g)
        self.e = torch.randn(V, hidden, generator=g)
        self.u = torch.randn(hidden, V, generator=g) * 2

    def start(self, batch: int) -> dict[str, torch.Tensor]:
        return {"h": torch.randn(batch, self.w.shape[0], generator=torch.Generator().manual_seed(batch))}

    def step(self, tokens, state):
        h = torch.tanh(state["h"] @ self.w + self.e[tokens])
        return (h @ self.u).log_softmax(-1), {"h": h}


def brute_force(dec: ToyDecoder, state, max_len: int, alpha: float) -> list[tuple[float, list[int]]]:
    """Every sequence the decoder can emit within max_len tokens, with its normalized score, best first."""
    results = []
    for n in range(1, max_len + 1):
        for seq in itertools.product(range(V), repeat=n):
            if EOS in seq[:-1] or (n < max_len and seq[-1] != EOS):
                continue  # ends early without eos, or continues after eos
            st, tok, logp = state, torch.tensor([BOS]), 0.0
            for s in seq:
                lp, st = dec.step(tok, st)
                logp += float(lp[0, s])
                tok = torch.tensor([s])
            score = logp / float(length_penalty_factor(torch.tensor(n), alpha))
            results.append((score, list(seq[:-1] if seq[-1] == EOS else seq)))
    return sorted(results, key=lambda r: -r[0])


@pytest.mark.parametrize("alpha", [0.0, 0.7])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wide_beam_finds_the_brute_force_optimum(seed, alpha):
    dec = ToyDecoder(seed)
    state = dec.start(1)
    truth = brute_force(dec, state, max_len=3, alpha=alpha)
    hyps = beam_search(
        dec.step, state, 1, beam_size=V**3, max_len=3, bos_id=BOS, eos_id=EOS, length_penalty=alpha, n_best=3
    )[0]
    assert [h.tokens for h in hyps] == [t[1] for t in truth[:3]]
    assert [h.score for h in hyps] == pytest.approx([t[0] for t in truth[:3]], abs=1e-5)


@pytest.mark.parametrize("seed", range(5))
def test_beam_of_one_equals_greedy(seed):
    dec = ToyDecoder(seed)
    state = dec.start(7)
    greedy = greedy_decode(dec.step, state, 7, max_len=8, bos_id=BOS, eos_id=EOS)
    beam = beam_search(dec.step, state, 7, beam_size=1, max_len=8, bos_id=BOS, eos_id=EOS)
    assert [b[0].tokens for b in beam] == [g.tokens for g in greedy]
    assert [b[0].score for b in beam] == pytest.approx([g.score for g in greedy], abs=1e-5)


def test_beam_results_are_sorted_and_never_exceed_max_len():
    dec = ToyDecoder(3)
    state = dec.start(5)
    for max_len in (1, 2, 5):
        out = beam_search(
            dec.step,
            state,
            5,
            beam_size=4,
            max_len=max_len,
            bos_id=BOS,
            eos_id=EOS,
            length_penalty=0.6,
            n_best=4,
        )
        for hyps in out:
            assert len(hyps) == 4
            assert all(len(h.tokens) <= max_len for h in hyps)
            scores = [h.score for h in hyps]
            assert scores == sorted(scores, reverse=True)
            assert len({tuple(h.tokens) for h in hyps}) == 4


def test_batched_beam_matches_each_clip_alone():
    dec = ToyDecoder(4)
    state = dec.start(3)
    together = beam_search(dec.step, state, 3, beam_size=3, max_len=6, bos_id=BOS, eos_id=EOS, n_best=2)
    for b in range(3):
        alone = beam_search(
            dec.step,
            {"h": state["h"][b : b + 1]},
            1,
            beam_size=3,
            max_len=6,
            bos_id=BOS,
            eos_id=EOS,
            n_best=2,
        )
        assert [h.tokens for h in alone[0]] == [h.tokens for h in together[b]]


def test_bad_arguments_name_the_value():
    dec = ToyDecoder(0)
    with pytest.raises(ValueError, match=r"n_best must be in \[1, beam_size=2\], got 3"):
        beam_search(dec.step, dec.start(1), 1, beam_size=2, max_len=3, bos_id=BOS, eos_id=EOS, n_best=3)
    with pytest.raises(ValueError, match="max_len must be >= 1, got 0"):
        greedy_decode(dec.step, dec.start(1), 1, max_len=0, bos_id=BOS, eos_id=EOS)


@torch.no_grad()
def _sequence_log_prob(dec: ToyDecoder, state, seq: list[int]) -> float:
    st, tok, logp = state, torch.tensor([BOS]), 0.0
    for s in seq:
        lp, st = dec.step(tok, st)
        logp += float(lp[0, s])
        tok = torch.tensor([s])
    return logp


def test_samples_are_clip_major_end_at_eos_and_carry_their_log_probability():
    dec = ToyDecoder(3)
    dec.u.requires_grad_(True)
    state = dec.start(2)
    torch.manual_seed(0)
    tokens, lengths, log_prob = sample_decode(
        dec.step, state, 2, samples=40, max_len=4, bos_id=BOS, eos_id=EOS
    )
    assert tokens.shape[0] == 80 and tokens.shape[1] <= 4 and lengths.shape == log_prob.shape == (80,)
    for row, (seq, n) in enumerate(zip(tokens.tolist(), lengths.tolist(), strict=True)):
        assert 1 <= n <= 4 and EOS not in seq[: n - 1] and all(t == EOS for t in seq[n:])
        assert seq[n - 1] == EOS or n == 4
        clip_state = {"h": state["h"][row // 40 : row // 40 + 1]}
        assert float(log_prob[row].detach()) == pytest.approx(
            _sequence_log_prob(dec, clip_state, seq[:n]), abs=1e-5
        )
    # draws follow the model: the most frequent first token is the most probable one
    first = torch.bincount(tokens[:40, 0], minlength=V).argmax()
    assert int(first) == int(dec.step(torch.tensor([BOS]), {"h": state["h"][:1]})[0][0].argmax())
    log_prob.sum().backward()  # gradients reach the decoder
    assert dec.u.grad is not None and float(dec.u.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="samples must be >= 1, got 0"):
        sample_decode(dec.step, state, 2, samples=0, max_len=4, bos_id=BOS, eos_id=EOS)
