"""Build a fuzz corpus: valid seeds, hand-made cases, then mutants up to ``n`` inputs, plus a manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tools.fuzzing.handmade import make_handmade
from tools.fuzzing.headers import corrupt_header
from tools.fuzzing.mutators import GENERIC
from tools.fuzzing.seeds import make_seeds

MUTATIONS = (*GENERIC, "header")


@dataclass(frozen=True)
class Case:
    """One fuzz input: its manifest id, path and how it was made."""

    id: str
    path: Path
    how: str


def mutate(data: bytes, suffix: str, rng: np.random.Generator, kind: str) -> tuple[bytes, str]:
    """Apply mutation ``kind`` (one of :data:`MUTATIONS`) to ``data``; header falls back to bit flips."""
    if kind == "header":
        out = corrupt_header(data, rng, suffix)
        if out is not None:
            return out
        kind = "bit_flips"
    return GENERIC[kind](data, rng)


def _mutant(seed: Path, rng: np.random.Generator) -> tuple[bytes, str]:
    """1 to 3 stacked mutations of ``seed``'s bytes."""
    data, how = seed.read_bytes(), []
    for _ in range(int(rng.choice([1, 1, 1, 2, 3]))):
        kind = MUTATIONS[int(rng.integers(0, len(MUTATIONS)))]
        data, desc = mutate(data, seed.suffix, rng, kind)
        how.append(desc)
        if not data:
            break
    return data, "; ".join(how)


def build_corpus(
    folder: Path, n: int, seed: int, big_frame: bool = True, seeds: list[Path] | None = None
) -> list[Case]:
    """Write ``n`` inputs under ``folder`` (seeds first, then hand-made cases, then mutants).

    seeds: reuse these seed clips (encoders are not bit-exact run to run, so the same
    ``seed`` gives the same files only from the same seed clips). Also writes
    ``folder/inputs.jsonl``, a manifest naming every case, so that folders, FIFOs and
    symlinks are offered to ``avseq run`` as inputs exactly like files. Raises ValueError
    when ``n`` is too small to hold the seeds and hand-made cases.
    """
    rng = np.random.default_rng(seed)
    seeds = seeds or make_seeds(folder / "seeds", seed=seed)
    cases = [Case(f"seed/{p.name}", p, "valid seed") for p in seeds]
    cases += [
        Case(f"hand/{p.name}", p, "hand-made") for p in make_handmade(folder / "hand", seeds, big_frame)
    ]
    if n < len(cases):
        raise ValueError(f"--n {n} is too small: the seeds and hand-made cases alone are {len(cases)}")
    mutants = folder / "mutants"
    mutants.mkdir(parents=True, exist_ok=True)
    for i in range(n - len(cases)):
        src = seeds[i % len(seeds)]
        data, how = _mutant(src, rng)
        path = mutants / f"{i:04d}_{src.stem}{src.suffix}"
        path.write_bytes(data)
        cases.append(Case(f"mut/{path.name}", path, f"{src.name}: {how}"))
    lines = [json.dumps({"path": str(c.path), "id": c.id}) for c in cases]
    (folder / "inputs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cases
