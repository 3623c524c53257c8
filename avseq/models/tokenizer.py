"""Word-level caption tokenizer that splits text the way the caption metrics do.

pycocoevalcap scores captions after Stanford's PTBTokenizer (``-lowerCase``) and then
drops the punctuation tokens ``'' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;``.
:func:`split_words` reproduces that in pure Python, so training targets, decoded
captions and metric references agree:

- lowercase; quotes and the tokens above are dropped;
- clitics are split as PTB does: ``don't -> do n't``, ``man's -> man 's``, ``we're -> we 're``
  (also ``'ll 've 'm 'd``), ``cannot -> can not``, ``gonna -> gon na`` (``wanna``, ``gotta``);
- a word keeps inner hyphens, periods, colons, slashes and ampersands (``t-shirt``, ``3.50``,
  ``5:30``, ``a/c``), and initialisms keep their final period (``u.s.``, ``p.m.``); any other
  punctuation character is its own token and is kept unless removed above (so ``#``, ``$``,
  ``%``, ``&`` survive, as in PTB).

Known differences from pycocoevalcap (checked by a parity test against the Java tokenizer):
brackets ``( ) [ ] { }`` are dropped here, while pycocoevalcap lowercases PTB's ``-LRB-``
before filtering and so leaves ``-lrb-``/``-rrb-``/``-lsb-``... tokens in references;
PTB's rarer rules (``'n'``, ``y'all``, fractions, smileys) are not reproduced.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from avseq.errors import BundleError

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
SPECIALS = (PAD, BOS, EOS, UNK)

# Tokens pycocoevalcap's PTBTokenizer removes after tokenizing (plus the raw characters
# PTB maps onto them: brackets and double quotes).
REMOVED = frozenset(
    ["''", "'", "``", "`", '"', "-LRB-", "-RRB-", "-LCB-", "-RCB-", "(", ")", "[", "]", "{", "}"]
    + [".", "?", "!", ",", ":", "-", "--", "...", ";"]
)
_CLITIC = re.compile(r"(?<=\w)(n't|'s|'re|'ll|'ve|'m|'d)\b")
_TOKEN = re.compile(r"n't|'(?:s|re|ll|ve|m|d)\b|(?:[a-z]\.){2,}|\w+(?:[-./&':]\w+)*|\.\.\.|--|\S")
_SPLIT_WORDS = {"cannot": "can not", "gonna": "gon na", "wanna": "wan na", "gotta": "got ta"}
_SPLIT_RE = re.compile(r"\b(" + "|".join(_SPLIT_WORDS) + r")\b")


def split_words(text: str) -> list[str]:
    """Lowercased PTB-style words of ``text`` with punctuation tokens removed."""
    text = _SPLIT_RE.sub(lambda m: _SPLIT_WORDS[m.group(1)], text.lower())
    text = _CLITIC.sub(r" \1", text)
    return [w for w in _TOKEN.findall(text) if w not in REMOVED]


class Tokenizer:
    """Word vocabulary with ``<pad>=0 <bos>=1 <eos>=2 <unk>=3``.

    >>> tok = Tokenizer.build(["A dog runs.", "a dog jumps!"])
    >>> tok.decode(tok.encode("The dog runs"))
    '<unk> dog runs'
    """

    pad_id, bos_id, eos_id, unk_id = PAD_ID, BOS_ID, EOS_ID, UNK_ID

    def __init__(self, words: Iterable[str]) -> None:
        """``words``: the vocabulary after the specials, in id order (ids start at 4)."""
        self.itos = list(SPECIALS) + [w for w in words if w not in SPECIALS]
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise BundleError("tokenizer vocabulary has duplicate words")

    @classmethod
    def build(cls, captions: Iterable[str], min_count: int = 1) -> Tokenizer:
        """Vocabulary of words seen at least ``min_count`` times, most frequent first
        (ties alphabetical, so the same captions always give the same ids)."""
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        counts = Counter(w for c in captions for w in split_words(c))
        kept = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        return cls(kept)

    def encode(self, text: str, add_bos_eos: bool = True) -> list[int]:
        """Token ids of ``text``; unknown words map to ``<unk>``."""
        ids = [self.stoi.get(w, UNK_ID) for w in split_words(text)]
        return [BOS_ID, *ids, EOS_ID] if add_bos_eos else ids

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``: stops at the first ``<eos>``, drops ``<pad>``/``<bos>``, keeps ``<unk>``."""
        words = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i in (PAD_ID, BOS_ID):
                continue
            words.append(self.itos[i] if 0 <= i < len(self.itos) else UNK)
        return " ".join(words)

    def to_dict(self) -> dict:
        """JSON-able form stored in bundles."""
        return {"type": "word", "specials": list(SPECIALS), "words": self.itos[len(SPECIALS) :]}

    @classmethod
    def from_dict(cls, data: dict) -> Tokenizer:
        """Inverse of :meth:`to_dict`; a malformed document raises BundleError."""
        if (
            not isinstance(data, dict)
            or data.get("type") != "word"
            or not isinstance(data.get("words"), list)
        ):
            raise BundleError("tokenizer document must be {'type': 'word', 'words': [...]}")
        if data.get("specials", list(SPECIALS)) != list(SPECIALS):
            raise BundleError(f"tokenizer specials {data.get('specials')} differ from {list(SPECIALS)}")
        return cls(data["words"])

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"Tokenizer(vocab={len(self)})"
