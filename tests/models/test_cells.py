"""LSTM, GRU and tanh-RNN cells in every sequence model: state handling, beam search, gate replay."""

import pytest
import torch

from avseq.errors import ConfigError
from avseq.models import Captioner, FrameToCaption, build_system
from avseq.models.beam import without_tokens
from avseq.models.gates import GATES, gate_activations, recurrent_layers, saturated
from avseq.models.rnn import CELLS, MaskedRNN, RecurrentState, make_rnn
from avseq.models.tokenizer import BOS_ID, EOS_ID, PAD_ID

ENCODER = {"name": "compact", "out_dim": 16, "width": 4, "depth": 2}
MODELS = {
    "sound": {"n_mels": 6, "video_fps": 8.0, "mel_frame_rate": 20.0, "hidden_size": 8, "num_layers": 2},
    "caption": {"vocab_size": 9, "hidden_size": 8, "embed_dim": 4, "num_layers": 2},
    "classify": {"num_classes": 3, "hidden_size": 8, "num_layers": 2},
    "frame_caption": {"vocab_size": 9, "hidden_size": 8, "embed_dim": 4, "num_layers": 2},
}
# every kind one way and bidirectional, but frame_caption: its only RNN is a decoder
KIND_DIRECTIONS = [(k, bi) for k in MODELS for bi in (False, True) if not (bi and k == "frame_caption")]


def features(lengths, dim=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(len(lengths), max(lengths), dim, generator=g), torch.tensor(lengths)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize(("kind", "bidirectional"), KIND_DIRECTIONS)
def test_every_kind_builds_and_runs_with_every_cell(kind, cell, bidirectional):
    options = {**MODELS[kind], "cell": cell, **({"bidirectional": True} if bidirectional else {})}
    system = build_system({"kind": kind, "encoder": ENCODER, "model": options}).eval()
    frames = torch.rand(2, 5, 3, 11, 17, generator=torch.Generator().manual_seed(0))
    lengths, tokens = torch.tensor([5, 3]), torch.tensor([[1, 5, 6], [1, 7, 2]])
    assert {type(rnn) for _, rnn, _ in recurrent_layers(system)} == {CELLS[cell]}
    with torch.no_grad():
        if kind == "sound":
            assert system(frames, lengths)[0].shape == (2, 6, 13)
        elif kind == "classify":
            assert system(frames, lengths).shape == (2, 3)
        else:
            assert system(frames, lengths, tokens).shape == (2, 3, 9)
            hyps = system.generate(frames, lengths, beam_size=3, max_len=4, n_best=2)
            assert [len(h) for h in hyps] == [2, 2]


@pytest.mark.parametrize("cell", list(CELLS))
def test_bidirectional_encoder_reads_the_whole_clip(cell):
    """Each output step of a bidirectional stack depends on later frames; a one-way one does not."""
    torch.manual_seed(0)
    x, lengths = features([6], dim=5)
    later = x.clone()
    later[0, 4:] += 1.0
    for bidirectional, changes_early_steps in ((False, False), (True, True)):
        rnn = MaskedRNN(cell, 5, 7, num_layers=2, bidirectional=bidirectional)
        assert rnn.out_dim == 7 * (2 if bidirectional else 1)
        before, after = rnn(x, lengths), rnn(later, lengths)
        assert (not torch.allclose(before[0, :4], after[0, :4])) == changes_early_steps


def test_a_bidirectional_decoder_is_refused():
    model = {**MODELS["frame_caption"], "bidirectional": True}
    why = r"model\.bidirectional: .* a decoder generates each token .* forward only"
    with pytest.raises(ConfigError, match=why):
        build_system({"kind": "frame_caption", "encoder": ENCODER, "model": model})


def test_cell_errors_name_the_key_and_the_choices():
    bad = {"kind": "caption", "encoder": ENCODER, "model": {**MODELS["caption"], "cell": "LSTM"}}
    with pytest.raises(ConfigError, match=r"Invalid model\.cell 'LSTM'\. Supported: lstm, gru, rnn"):
        build_system(bad)
    with pytest.raises(ConfigError, match=r"Invalid cell 'elman'\. Supported: lstm, gru, rnn"):
        Captioner(4, 9, cell="elman")


@pytest.mark.parametrize(("cell", "names"), [("lstm", ("h", "c")), ("gru", ("h",)), ("rnn", ("h",))])
def test_recurrent_state_carries_what_the_cell_carries(cell, names):
    state_maker = RecurrentState(cell, summary_dim=5, hidden_size=7, num_layers=2)
    state = state_maker(torch.randn(3, 5))
    assert tuple(state) == names and all(v.shape == (3, 2, 7) for v in state.values())
    rnn = make_rnn(cell, 4, 7, num_layers=2)
    out, hx = rnn(torch.randn(3, 1, 4), state_maker.join(state))
    back = state_maker.split(hx)
    assert tuple(back) == names
    torch.testing.assert_close(back["h"][:, -1], out[:, 0])


def _decoders(cell):
    torch.manual_seed(0)
    captioner = Captioner(12, 11, hidden_size=16, embed_dim=8, num_layers=2, cell=cell).eval()
    frame = FrameToCaption(12, 11, hidden_size=16, embed_dim=8, num_layers=2, cell=cell).eval()
    feats, lengths = features([6, 2, 4, 5], seed=3)
    return [(captioner, (feats, lengths)), (frame, (feats[:, 0],))]


@pytest.mark.parametrize("cell", list(CELLS))
def test_beam_of_one_equals_greedy_for_every_decoder_cell(cell):
    for model, inputs in _decoders(cell):
        greedy = model.greedy(*inputs, max_len=7)
        beam = model.beam_search(*inputs, beam_size=1, max_len=7)
        assert [b[0].tokens for b in beam] == [g.tokens for g in greedy]
        assert [b[0].score for b in beam] == pytest.approx([g.score for g in greedy], abs=1e-5)


@pytest.mark.parametrize("cell", list(CELLS))
@torch.no_grad()
def test_beam_hypotheses_score_what_teacher_forcing_gives_them(cell):
    """Beam search reorders the decoder state with its beams: each hypothesis's log-probability
    equals the one the decoder gives its tokens when fed them from the start."""
    for model, inputs in _decoders(cell):
        hyps = model.beam_search(*inputs, beam_size=4, max_len=5, n_best=4)
        for clip, clip_hyps in enumerate(hyps):
            for h in clip_hyps:
                ended = len(h.tokens) < 5
                target = torch.tensor([h.tokens + ([EOS_ID] if ended else [])])
                tokens = torch.cat([torch.tensor([[BOS_ID]]), target[:, :-1]], 1)
                one = tuple(x[clip : clip + 1] for x in inputs)
                if len(one) == 2:  # the captioner's clip, without its padding
                    one = (one[0][:, : int(one[1])], one[1])
                logits = without_tokens(model(*one, tokens)[0], (PAD_ID, BOS_ID))
                expected = logits.log_softmax(-1).gather(1, target.T).sum()
                assert h.log_prob == pytest.approx(float(expected), abs=1e-4)


@pytest.mark.parametrize("cell", list(CELLS))
def test_gate_replay_gives_the_modules_own_outputs(cell):
    torch.manual_seed(0)
    rnn = make_rnn(cell, 5, 7, num_layers=3)
    x = torch.randn(2, 9, 5)
    hx = RecurrentState(cell, 4, 7, 3).join(RecurrentState(cell, 4, 7, 3)(torch.randn(2, 4)))
    out, layers = gate_activations(rnn, x, hx)
    torch.testing.assert_close(out, rnn(x, hx)[0], atol=1e-5, rtol=1e-4)
    assert len(layers) == 3 and all(tuple(layer) == GATES[cell] for layer in layers)
    values = [v for gates in layers for v in gates.values()]
    assert all(v.shape == (2, 9, 7) and float(v.min()) >= 0 and float(v.max()) <= 1 for v in values)


def test_saturated_gates_are_those_near_zero_or_one():
    lstm = make_rnn("lstm", 3, 4)
    with torch.no_grad():
        lstm.bias_ih_l0[4:8] = 20.0  # the forget gate: always open
    _, (gates,) = gate_activations(lstm, torch.randn(2, 5, 3))
    assert bool(saturated(gates["forget"]).all())
    near_ends = saturated(torch.tensor([0.01, 0.05, 0.5, 0.95, 0.99]))
    assert near_ends.tolist() == [True, False, False, False, True]


def test_recurrent_layers_are_named_by_path_layer_and_direction():
    sound = build_system(
        {"kind": "sound", "encoder": ENCODER, "model": {**MODELS["sound"], "bidirectional": True}}
    )
    assert [n for n, _, _ in recurrent_layers(sound)] == [
        "model.rnn.0.fwd", "model.rnn.0.bwd", "model.rnn.1.fwd", "model.rnn.1.bwd",
    ]  # fmt: skip
    gru = {**MODELS["caption"], "cell": "gru"}
    caption = build_system({"kind": "caption", "encoder": ENCODER, "model": gru})
    assert [(n, k) for n, _, k in recurrent_layers(caption)] == [
        ("model.encoder.0", 0), ("model.encoder.1", 1), ("model.decoder.0", 0), ("model.decoder.1", 1),
    ]  # fmt: skip
