"""Caption metrics through pycocoevalcap: BLEU-1..4, METEOR, ROUGE-L, CIDEr.

References and predictions are keyed by clip id; each clip may carry several
references and exactly one prediction. Tokenization is the standard one of the
COCO caption evaluation (Stanford PTBTokenizer, lower case, punctuation removed),
which needs Java. Without Java a plain lower-case / punctuation-stripping
tokenizer is used instead and METEOR is left out; :func:`caption_scores` says
which tokenizer it used in its result so a report can state it.

METEOR's scorer is a Java process that loads its paraphrase tables on start (about 7 s on two
cores); inside :func:`meteor_session` every call shares one, started on first use, instead of
starting its own (a dense-caption evaluation scores 12 corpora).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence

from avseq.errors import MetricsUnavailableError

CAPTION_METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr")
_PUNCT = re.compile(r"[^\w\s]")
_SESSION: dict = {}  # inside meteor_session(): "depth", and "meteor" once a call has started it


def java_available() -> bool:
    """Whether a ``java`` executable is on PATH (needed by PTBTokenizer and METEOR)."""
    return shutil.which("java") is not None


def simple_tokenize(text: str) -> str:
    """Lower-case, drop punctuation, collapse whitespace: the fallback without Java."""
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


def _check_inputs(references: Mapping[str, Sequence[str]], predictions: Mapping[str, str]) -> None:
    missing = sorted(set(references) ^ set(predictions))
    if missing:
        raise ValueError(f"references and predictions must have the same clip ids; differ on {missing[:5]}")
    if not references:
        raise ValueError("caption_scores needs at least one clip")
    empty = [k for k, refs in references.items() if isinstance(refs, str) or len(refs) == 0]
    if empty:
        raise ValueError(f"each clip needs a list of >= 1 reference captions; bad clips: {empty[:5]}")


def tokenize_captions(captions: Mapping[str, Sequence[str]], tokenizer: str = "ptb") -> dict[str, list[str]]:
    """Tokenize ``{id: [caption, ...]}`` with ``"ptb"`` (Java) or ``"simple"``."""
    if tokenizer == "simple":
        return {k: [simple_tokenize(c) for c in caps] for k, caps in captions.items()}
    if tokenizer != "ptb":
        raise ValueError(f"Invalid tokenizer {tokenizer!r}. Supported: 'ptb', 'simple'")
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    with _quiet_stderr():  # the Java tokenizer prints a speed line per call
        return PTBTokenizer().tokenize({k: [{"caption": c} for c in caps] for k, caps in captions.items()})


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 (inherited by subprocesses) to /dev/null for the duration."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def meteor_session() -> Iterator[None]:
    """Share one METEOR scorer among the :func:`caption_scores` calls inside (nested sessions
    share the outermost one's); its Java process ends when the session does."""
    _SESSION["depth"] = _SESSION.get("depth", 0) + 1
    try:
        yield
    finally:
        _SESSION["depth"] -= 1
        if not _SESSION["depth"] and "meteor" in _SESSION:
            _stop(_SESSION.pop("meteor"))


def _meteor():
    from pycocoevalcap.meteor.meteor import Meteor

    if not _SESSION.get("depth"):
        return Meteor()
    if "meteor" not in _SESSION:
        _SESSION["meteor"] = Meteor()
    return _SESSION["meteor"]


def _stop(meteor) -> None:
    meteor.meteor_p.stdin.close()
    meteor.meteor_p.kill()
    meteor.meteor_p.wait()


def _scorers(names: Iterable[str]):
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    wanted = set(names)
    if wanted & {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4"}:
        yield ["BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4"], Bleu(4)
    if "METEOR" in wanted:
        yield ["METEOR"], _meteor()
    if "ROUGE-L" in wanted:
        yield ["ROUGE-L"], Rouge()
    if "CIDEr" in wanted:
        yield ["CIDEr"], Cider()


def caption_scores(
    references: Mapping[str, Sequence[str]],
    predictions: Mapping[str, str],
    metrics: Sequence[str] = CAPTION_METRICS,
    tokenizer: str = "auto",
) -> dict[str, float | str]:
    """Corpus-level caption metrics of ``predictions`` against ``references``.

    references: ``{clip_id: [reference caption, ...]}`` (one or more per clip).
    predictions: ``{clip_id: predicted caption}`` with the same ids.
    metrics: a subset of :data:`CAPTION_METRICS`.
    tokenizer: ``"ptb"`` (Java), ``"simple"`` or ``"auto"`` (ptb when Java exists).
    Returns ``{metric: score}`` plus ``"tokenizer"`` naming the one used. METEOR
    is skipped (absent from the result) when Java is missing.
    """
    unknown = [m for m in metrics if m not in CAPTION_METRICS]
    if unknown:
        raise ValueError(f"unknown caption metric {unknown[0]!r}; known: {', '.join(CAPTION_METRICS)}")
    _check_inputs(references, predictions)
    try:
        import pycocoevalcap  # noqa: F401
    except ImportError:
        raise MetricsUnavailableError(
            "caption metrics need pycocoevalcap: pip install 'avseq[eval]'"
        ) from None
    has_java = java_available()
    if tokenizer == "auto":
        tokenizer = "ptb" if has_java else "simple"
    if not has_java:
        if tokenizer == "ptb":
            raise MetricsUnavailableError("the PTB tokenizer needs Java; use tokenizer='simple'")
        metrics = [m for m in metrics if m != "METEOR"]
    ids = sorted(references)
    gts = tokenize_captions({k: list(references[k]) for k in ids}, tokenizer)
    res = tokenize_captions({k: [predictions[k]] for k in ids}, tokenizer)
    out: dict[str, float | str] = {}
    for names, scorer in _scorers(metrics):
        score, _ = _score(scorer, gts, res)
        values = score if isinstance(score, list) else [score]
        for name, value in zip(names, values, strict=True):
            if name in metrics:
                out[name] = float(value)
    out["tokenizer"] = tokenizer
    return out


def _score(scorer, gts, res):
    if type(scorer).__name__ == "Bleu":
        return scorer.compute_score(gts, res, verbose=0)
    try:
        return scorer.compute_score(gts, res)
    finally:
        if hasattr(scorer, "meteor_p") and scorer is not _SESSION.get("meteor"):
            _stop(scorer)
