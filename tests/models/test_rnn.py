"""MaskedRNN against torch's packed-sequence RNN, and the cell/option errors."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from avseq.errors import ConfigError
from avseq.models.rnn import MaskedRNN, last_valid, make_rnn, masked_max, masked_mean, reverse_index


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_bidirectional_masked_rnn_matches_packed_torch_rnn(cell):
    torch.manual_seed(0)
    ours = MaskedRNN(cell, 5, 7, num_layers=2, bidirectional=True)
    ref = make_rnn(cell, 5, 7, num_layers=2, bidirectional=True)
    with torch.no_grad():  # copy our per-layer, per-direction weights into torch's layout
        for layer, pair in enumerate(ours.layers):
            for direction, rnn in zip(("", "_reverse"), pair, strict=True):
                for name, p in rnn.named_parameters():
                    getattr(ref, name.replace("_l0", f"_l{layer}{direction}")).copy_(p)
    x, lengths = torch.randn(3, 6, 5), torch.tensor([6, 2, 4])
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    expected, _ = pad_packed_sequence(ref(packed)[0], batch_first=True, total_length=6)
    torch.testing.assert_close(ours(x, lengths), expected, atol=1e-5, rtol=1e-4)


def test_reverse_index_reverses_within_each_length():
    assert reverse_index(torch.tensor([3, 1]), 4).tolist() == [[2, 1, 0, 3], [0, 1, 2, 3]]


def test_masked_pooling_ignores_padding():
    x = torch.tensor([[[1.0], [3.0], [100.0]], [[2.0], [-100.0], [100.0]]])
    lengths = torch.tensor([2, 1])
    assert masked_mean(x, lengths).flatten().tolist() == [2.0, 2.0]
    assert masked_max(x, lengths).flatten().tolist() == [3.0, 2.0]
    assert last_valid(x, lengths).flatten().tolist() == [3.0, 2.0]


def test_errors_name_the_bad_value_and_the_choices():
    with pytest.raises(ConfigError, match=r"Invalid cell 'transformer'\. Supported: lstm, gru, rnn"):
        MaskedRNN("transformer", 4, 4)
    with pytest.raises(ConfigError, match="num_layers must be >= 1, got 0"):
        make_rnn("lstm", 4, 4, num_layers=0)
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 3\], got \[4\]"):
        MaskedRNN("gru", 4, 4)(torch.zeros(1, 3, 4), torch.tensor([4]))
