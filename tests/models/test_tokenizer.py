"""Tokenizer: vocabulary, specials, round trips, and agreement with pycocoevalcap's PTB tokenizer."""

import json
import shutil

import pytest

from avseq.errors import BundleError
from avseq.models import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Tokenizer, split_words

SENTENCES = [
    "A man is playing a guitar.",
    "The dog doesn't like the cat's toy!",
    'She said "hello" to them, then left...',
    "A t-shirt costs $3.50; wow?",
    "U.S. troops arrive at 5:30 p.m. now, gonna stay",
    "Two men: one runs -- the other walks.",
    "We're sure they'll come, I'm told it'd work.",
    "A RED metal ball bounces   three times",
    "someone slices an onion with a knife & smiles",
]


def test_specials_and_frequency_order():
    tok = Tokenizer.build(["a dog runs", "a dog", "a cat"], min_count=1)
    assert tok.itos[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert (PAD_ID, BOS_ID, EOS_ID, UNK_ID) == (0, 1, 2, 3)
    assert tok.itos[4:] == ["a", "dog", "cat", "runs"]  # by count, ties alphabetical
    assert len(tok) == 8
    assert Tokenizer.build(["a dog runs", "a dog", "a cat"], min_count=2).itos[4:] == ["a", "dog"]


def test_encode_decode_round_trip():
    tok = Tokenizer.build(SENTENCES)
    ids = tok.encode("A man is playing a guitar.")
    assert ids[0] == BOS_ID and ids[-1] == EOS_ID
    assert tok.decode(ids) == "a man is playing a guitar"
    assert tok.encode("a zebra", add_bos_eos=False) == [tok.stoi["a"], UNK_ID]
    assert tok.decode([BOS_ID, tok.stoi["man"], PAD_ID, EOS_ID, tok.stoi["dog"]]) == "man"


def test_dict_round_trip_is_json_able():
    tok = Tokenizer.build(SENTENCES)
    again = Tokenizer.from_dict(json.loads(json.dumps(tok.to_dict())))
    assert again.itos == tok.itos
    with pytest.raises(BundleError, match="tokenizer document"):
        Tokenizer.from_dict({"words": "abc"})
    with pytest.raises(BundleError, match="specials"):
        Tokenizer.from_dict({"type": "word", "specials": ["<s>"], "words": []})


def test_punctuation_and_clitics_follow_ptb():
    assert split_words("The dog doesn't like the cat's toy!") == [
        "the", "dog", "does", "n't", "like", "the", "cat", "'s", "toy",
    ]  # fmt: skip
    assert split_words('A t-shirt (red) costs $3.50; "wow"?') == [
        "a",
        "t-shirt",
        "red",
        "costs",
        "$",
        "3.50",
        "wow",
    ]


@pytest.mark.skipif(shutil.which("java") is None, reason="PTBTokenizer needs Java")
def test_matches_pycocoevalcap_ptb_tokenizer():
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    refs = {i: [{"caption": s}] for i, s in enumerate(SENTENCES)}
    ptb = PTBTokenizer().tokenize(refs)
    for i, sentence in enumerate(SENTENCES):
        assert " ".join(split_words(sentence)) == ptb[i][0], sentence


def test_brackets_are_dropped_a_documented_difference_from_pycocoevalcap():
    assert split_words("a ball (red) [big] {x}") == ["a", "ball", "red", "big", "x"]
