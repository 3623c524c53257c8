"""Captioner, FrameToCaption and ClipClassifier: shapes, batch consistency, decoding, overfitting."""

import pytest
import torch

from avseq.models import EOS_ID, Captioner, ClipClassifier, FrameToCaption, caption_loss, word_loss


def features_batch(lengths, dim=12, seed=0):
    """Random features (B, T, dim); padded positions hold garbage so masking is tested."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(len(lengths), max(lengths), dim, generator=g), torch.tensor(lengths)


def tiny_captioner(cell="lstm", bidirectional=False, vocab=11):
    torch.manual_seed(0)
    model = Captioner(
        12, vocab, hidden_size=16, embed_dim=8, num_layers=2, cell=cell, bidirectional=bidirectional
    )
    return model.eval()


def captions(batch, length, vocab, seed=0):
    """[<bos>, words..., <eos>] rows (B, length + 2) with words in [4, vocab)."""
    g = torch.Generator().manual_seed(seed)
    words = torch.randint(4, vocab, (batch, length), generator=g)
    return torch.cat([torch.ones(batch, 1, dtype=torch.long), words, torch.full((batch, 1), EOS_ID)], 1)


def fit(model, run, steps=300, lr=3e-2):
    """Adam until the loss falls below 5% of its start; returns (first, last) loss."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    first = last = None
    for _ in range(steps):
        loss = run()
        opt.zero_grad()
        loss.backward()
        opt.step()
        last = loss.item()
        first = first if first is not None else last
        if last < 0.05 * first:
            break
    return first, last


def test_teacher_forcing_shapes():
    model = tiny_captioner()
    feats, lengths = features_batch([5, 3])
    tokens = captions(2, 4, 11)
    assert model(feats, lengths, tokens[:, :-1]).shape == (2, 5, 11)


def test_word_head_scores_the_caption_words_and_skips_special_tokens():
    torch.manual_seed(0)
    model = Captioner(12, 11, hidden_size=16, embed_dim=8, word_head=True).eval()
    feats, lengths = features_batch([5, 3])
    tokens = torch.tensor([[1, 4, 5, 2, 0], [1, 6, 6, 7, 2]])  # <bos> words <eos> <pad>
    logits, words = model(feats, lengths, tokens[:, :-1], with_words=True)
    assert words.shape == (2, 11)
    torch.testing.assert_close(logits, model(feats, lengths, tokens[:, :-1]))
    perfect = torch.full((2, 11), -20.0)
    perfect[0, [4, 5]] = perfect[1, [6, 7]] = 20.0
    assert float(word_loss(perfect, tokens, (0, 1, 2, 3))) < 1e-6
    perfect[:, [0, 1, 2, 3]] = 20.0  # special ids are not scored
    assert float(word_loss(perfect, tokens, (0, 1, 2, 3))) < 1e-6
    perfect[0, 8] = 20.0  # a word the caption lacks
    assert float(word_loss(perfect, tokens, (0, 1, 2, 3))) > 1.0
    with pytest.raises(ValueError, match="word_head=True"):
        tiny_captioner()(feats, lengths, tokens[:, :-1], with_words=True)


@pytest.mark.parametrize(
    "cell, bidirectional", [("lstm", False), ("lstm", True), ("gru", False), ("gru", True), ("rnn", True)]
)
def test_padded_batch_decodes_each_clip_as_alone(cell, bidirectional):
    model = tiny_captioner(cell, bidirectional)
    feats, lengths = features_batch([7, 3, 5])
    greedy = model.greedy(feats, lengths, max_len=6)
    beam = model.beam_search(feats, lengths, beam_size=3, max_len=6, n_best=2)
    tokens = captions(3, 3, 11)
    logits = model(feats, lengths, tokens)
    for b in range(3):
        n = int(lengths[b])
        alone = feats[b : b + 1, :n], lengths[b : b + 1]
        assert model.greedy(*alone, max_len=6)[0].tokens == greedy[b].tokens
        assert [h.tokens for h in model.beam_search(*alone, beam_size=3, max_len=6, n_best=2)[0]] == [
            h.tokens for h in beam[b]
        ]
        alone_logits = model(*alone, tokens[b : b + 1])
        torch.testing.assert_close(logits[b], alone_logits[0], atol=1e-5, rtol=1e-4)


def test_beam_of_one_equals_greedy_and_beams_are_sorted():
    model = tiny_captioner()
    feats, lengths = features_batch([6, 2, 4, 5], seed=3)
    greedy = model.greedy(feats, lengths, max_len=7)
    beam = model.beam_search(feats, lengths, beam_size=1, max_len=7)
    assert [b[0].tokens for b in beam] == [g.tokens for g in greedy]
    assert [b[0].score for b in beam] == pytest.approx([g.score for g in greedy], abs=1e-5)
    for hyps in model.beam_search(feats, lengths, beam_size=4, max_len=3, length_penalty=0.6, n_best=4):
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
        assert all(len(h.tokens) <= 3 for h in hyps)
        assert all(t not in (0, 1, EOS_ID) for h in hyps for t in h.tokens)  # no <pad>, <bos>, <eos>


def test_attention_ignores_padded_frames():
    model = tiny_captioner()
    feats, lengths = features_batch([6, 3])
    state = model.encode(feats, lengths)
    _, weights = model.attention(state["h"][:, -1], state["keys"], state["memory"], state["mask"])
    assert torch.all(weights[1, 3:] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2))


def test_captioner_overfits_a_tiny_batch():
    model = Captioner(12, 15, hidden_size=32, embed_dim=16)
    feats, lengths = features_batch([6, 4, 5, 3])
    seq = captions(4, 5, 15)
    first, last = fit(model, lambda: caption_loss(model(feats, lengths, seq[:, :-1]), seq[:, 1:]))
    assert last < 0.1 * first, (first, last)
    model.eval()
    assert [h.tokens for h in model.greedy(feats, lengths, max_len=10)] == seq[:, 1:-1].tolist()


def test_frame_to_caption_overfits_and_decodes_through_beam_search():
    torch.manual_seed(0)
    model = FrameToCaption(12, 15, hidden_size=32, embed_dim=16)
    feats = torch.randn(4, 12, generator=torch.Generator().manual_seed(0))
    seq = captions(4, 5, 15)
    assert model(feats, seq[:, :-1]).shape == (4, 6, 15)
    first, last = fit(model, lambda: caption_loss(model(feats, seq[:, :-1]), seq[:, 1:]))
    assert last < 0.1 * first, (first, last)
    model.eval()
    greedy = model.greedy(feats, max_len=10)
    beam = model.beam_search(feats, beam_size=1, max_len=10)
    assert [g.tokens for g in greedy] == [b[0].tokens for b in beam] == seq[:, 1:-1].tolist()


@pytest.mark.parametrize("pooling", ["mean", "max", "last"])
def test_clip_classifier_overfits_and_is_batch_consistent(pooling):
    torch.manual_seed(0)
    model = ClipClassifier(12, 3, hidden_size=24, pooling=pooling, bidirectional=pooling == "last")
    feats, lengths = features_batch([6, 4, 5, 3, 6, 2])
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    first, last = fit(model, lambda: torch.nn.functional.cross_entropy(model(feats, lengths), labels))
    assert last < 0.1 * first, (first, last)
    model.eval()
    with torch.no_grad():
        logits = model(feats, lengths)
        assert logits.shape == (6, 3)
        alone = model(feats[3:4, :3], lengths[3:4])
    torch.testing.assert_close(logits[3], alone[0], atol=1e-5, rtol=1e-4)


def test_forget_gate_bias_starts_at_one():
    lstm = tiny_captioner().decoder
    h = lstm.hidden_size
    total = lstm.bias_ih_l0 + lstm.bias_hh_l0
    assert torch.all(total[h : 2 * h] == 1.0)


def test_classifier_rejects_unknown_pooling():
    with pytest.raises(ValueError, match="Invalid pooling 'sum'. Supported: mean, max, last"):
        ClipClassifier(4, 2, pooling="sum")


def test_clip_classifier_has_one_softmax_per_attribute_in_name_order():
    torch.manual_seed(0)
    attributes = {"shape": ["ball", "cube"], "action": ["bounce", "slide", "struck"]}
    model = ClipClassifier(12, attributes=attributes, hidden_size=8, cell="rnn", pooling="max")
    assert list(model.attributes) == ["action", "shape"]  # as a bundle.json's sorted keys give them back
    feats, lengths = features_batch([5, 3])
    logits = model(feats, lengths)
    assert logits.shape == (2, 5)
    parts = model.split(logits)
    assert {k: v.shape for k, v in parts.items()} == {"action": (2, 3), "shape": (2, 2)}
    torch.testing.assert_close(torch.cat(list(parts.values()), -1), logits)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "give exactly one of num_classes .* or attributes"),
        ({"num_classes": 2, "attributes": {"a": ["x"]}}, "give exactly one of num_classes"),
        ({"attributes": {"a": []}}, r"attributes\.a must be a non-empty list of class names"),
        ({"attributes": {"a": ["x", "x"]}}, r"attributes\.a must list distinct class names"),
    ],
)
def test_classifier_classes_are_checked(options, message):
    with pytest.raises(ValueError, match=message):
        ClipClassifier(4, **options)


def test_frame_captioner_state_stays_unsaturated_for_large_features():
    """A CNN's pooled features run to ~8 per channel: the initial state must not sit at tanh's +-1,
    or almost no gradient reaches the CNN (it did: 1e-7 at its first layer, captions blind)."""
    torch.manual_seed(0)
    model = FrameToCaption(128, 11, hidden_size=32, embed_dim=8)
    features = (8 + 4 * torch.randn(4, 128)).requires_grad_(True)
    state = model.encode(features)
    assert (state["h"].abs() > 0.99).float().mean() < 0.05
    tokens = torch.randint(3, 11, (4, 5))
    model(features, tokens).logsumexp(-1).sum().backward()
    assert features.grad.norm() > 1e-3
