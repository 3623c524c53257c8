"""Byte-level mutators: each takes (data, rng) and returns (mutated bytes, short description).

Generic ones (bit flips, range overwrites, truncation, duplicated/dropped chunks) work on any
file; :mod:`tools.fuzzing.headers` corrupts known header fields of each container.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Mutator = Callable[[bytes, np.random.Generator], tuple[bytes, str]]


def _span(rng: np.random.Generator, size: int, longest: int) -> tuple[int, int]:
    """A random [start, end) inside ``size`` bytes, at most ``longest`` long (at least 1)."""
    length = int(rng.integers(1, max(min(longest, size), 1) + 1))
    start = int(rng.integers(0, max(size - length, 0) + 1))
    return start, start + length


def bit_flips(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """Flip 1..64 random bits anywhere in the file."""
    buf = bytearray(data)
    n = int(rng.integers(1, 65))
    for pos in rng.integers(0, len(buf), size=n):
        buf[pos] ^= 1 << int(rng.integers(0, 8))
    return bytes(buf), f"bit_flips n={n}"


def overwrite_range(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """Overwrite 1..512 bytes with random bytes, zeros or 0xFF."""
    a, b = _span(rng, len(data), 512)
    fill = ["random", "zeros", "ones"][int(rng.integers(0, 3))]
    chunk = {
        "random": rng.integers(0, 256, size=b - a, dtype=np.uint8).tobytes(),
        "zeros": bytes(b - a),
        "ones": b"\xff" * (b - a),
    }[fill]
    return data[:a] + chunk + data[b:], f"overwrite_range [{a},{b}) {fill}"


def truncate(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """Cut the file at a random point (keeping at least one byte)."""
    cut = int(rng.integers(1, max(len(data), 2)))
    return data[:cut], f"truncate at {cut}/{len(data)}"


def duplicate_chunk(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """Copy a chunk of 1..4096 bytes and insert it at a random offset."""
    a, b = _span(rng, len(data), 4096)
    at = int(rng.integers(0, len(data) + 1))
    return data[:at] + data[a:b] + data[at:], f"duplicate_chunk [{a},{b}) at {at}"


def drop_chunk(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """Remove a chunk of 1..4096 bytes."""
    a, b = _span(rng, len(data), 4096)
    return data[:a] + data[b:], f"drop_chunk [{a},{b})"


GENERIC: dict[str, Mutator] = {
    "bit_flips": bit_flips,
    "overwrite_range": overwrite_range,
    "truncate": truncate,
    "duplicate_chunk": duplicate_chunk,
    "drop_chunk": drop_chunk,
}
