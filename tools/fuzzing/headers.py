"""Header-field corruption: sizes, timestamps, dimensions and sample rates of known containers.

Fields are found by their tags (MP4 boxes, RIFF chunks, Matroska element ids) and overwritten
with hostile values (0, 1, all ones, the sign bit, huge, random). Offsets follow ISO/IEC 14496-12
(version-0 boxes), the RIFF WAVE / AVI headers and the Matroska element table.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Field:
    """A header field: ``offset`` bytes after the tag's start, ``width`` bytes, byte ``order``."""

    tag: bytes
    offset: int
    width: int
    order: str  # ">" big endian, "<" little endian
    name: str
    after: bytes = b""  # search for ``tag`` only after this tag (e.g. sample entries after 'stsd')


# MP4 offsets are from the start of the 4-byte type: +4 is version/flags of a full box.
MP4 = [
    Field(b"mvhd", -4, 4, ">", "mvhd.size"),
    Field(b"mvhd", 16, 4, ">", "mvhd.timescale"),
    Field(b"mvhd", 20, 4, ">", "mvhd.duration"),
    Field(b"tkhd", 24, 4, ">", "tkhd.duration"),
    Field(b"tkhd", 80, 4, ">", "tkhd.width"),
    Field(b"tkhd", 84, 4, ">", "tkhd.height"),
    Field(b"mdhd", 16, 4, ">", "mdhd.timescale"),
    Field(b"mdhd", 20, 4, ">", "mdhd.duration"),
    Field(b"stts", 8, 4, ">", "stts.entry_count"),
    Field(b"stts", 16, 4, ">", "stts.sample_delta"),
    Field(b"stsz", 12, 4, ">", "stsz.sample_count"),
    Field(b"stsz", 16, 4, ">", "stsz.first_size"),
    Field(b"stco", 12, 4, ">", "stco.first_offset"),
    Field(b"avc1", 28, 2, ">", "avc1.width", after=b"stsd"),
    Field(b"avc1", 30, 2, ">", "avc1.height", after=b"stsd"),
    Field(b"mp4a", 20, 2, ">", "mp4a.channels", after=b"stsd"),
    Field(b"mp4a", 28, 4, ">", "mp4a.sample_rate", after=b"stsd"),
    Field(b"mdat", -4, 4, ">", "mdat.size"),
]
# RIFF offsets are from the start of the chunk id; +4 is the chunk size.
WAV = [
    Field(b"RIFF", 4, 4, "<", "riff.size"),
    Field(b"fmt ", 10, 2, "<", "fmt.channels"),
    Field(b"fmt ", 12, 4, "<", "fmt.sample_rate"),
    Field(b"fmt ", 16, 4, "<", "fmt.byte_rate"),
    Field(b"fmt ", 20, 2, "<", "fmt.block_align"),
    Field(b"fmt ", 22, 2, "<", "fmt.bits_per_sample"),
    Field(b"data", 4, 4, "<", "data.size"),
]
AVI = [
    Field(b"RIFF", 4, 4, "<", "riff.size"),
    Field(b"avih", 8, 4, "<", "avih.usec_per_frame"),
    Field(b"avih", 24, 4, "<", "avih.total_frames"),
    Field(b"avih", 32, 4, "<", "avih.streams"),
    Field(b"avih", 40, 4, "<", "avih.width"),
    Field(b"avih", 44, 4, "<", "avih.height"),
    Field(b"strh", 28, 4, "<", "strh.scale"),
    Field(b"strh", 32, 4, "<", "strh.rate"),
    Field(b"strh", 40, 4, "<", "strh.length"),
    Field(b"strf", 12, 4, "<", "strf.width"),
    Field(b"strf", 16, 4, "<", "strf.height"),
    Field(b"movi", -4, 4, "<", "movi.size"),
    Field(b"idx1", 4, 4, "<", "idx1.size"),
]
# Matroska: element id + a one-byte size (0x81 / 0x82 / 0x84 / 0x88), value right after.
MKV = [
    Field(b"\x2a\xd7\xb1\x83", 4, 3, ">", "TimestampScale"),
    Field(b"\x44\x89\x88", 3, 8, ">", "Duration"),
    Field(b"\x44\x89\x84", 3, 4, ">", "Duration"),
    Field(b"\xb0\x81", 2, 1, ">", "PixelWidth"),
    Field(b"\xba\x81", 2, 1, ">", "PixelHeight"),
    Field(b"\xb0\x82", 2, 2, ">", "PixelWidth"),
    Field(b"\xba\x82", 2, 2, ">", "PixelHeight"),
    Field(b"\xb5\x88", 2, 8, ">", "SamplingFrequency"),
    Field(b"\x9f\x81", 2, 1, ">", "Channels"),
    Field(b"\x18\x53\x80\x67\x01", 5, 7, ">", "Segment.size"),
]
CONTAINERS = {".mp4": MP4, ".wav": WAV, ".avi": AVI, ".mkv": MKV, ".webm": MKV}


def locate(data: bytes, field: Field) -> int | None:
    """Byte offset of ``field`` in ``data`` (first tag after ``field.after``), or None."""
    begin = data.find(field.after) if field.after else 0
    if begin < 0:
        return None
    at = data.find(field.tag, begin)
    if at < 0:
        return None
    pos = at + field.offset
    return pos if pos >= 0 and pos + field.width <= len(data) else None


def hostile_value(rng: np.random.Generator, width: int) -> tuple[int, str]:
    """A value to write into a ``width``-byte field, with its label."""
    top = (1 << (8 * width)) - 1
    choices = [
        (0, "zero"),
        (1, "one"),
        (top, "all_ones"),
        (1 << (8 * width - 1), "sign_bit"),
        (top >> 1, "max_signed"),
        (int(rng.integers(0, min(top, 2**62) + 1)), "random"),
    ]
    return choices[int(rng.integers(0, len(choices)))]


def write_field(data: bytes, pos: int, field: Field, value: int) -> bytes:
    """``data`` with ``value`` (truncated to the field's width) at ``pos``."""
    raw = (value & ((1 << (8 * field.width)) - 1)).to_bytes(
        field.width, "big" if field.order == ">" else "little"
    )
    return data[:pos] + raw + data[pos + field.width :]


def corrupt_header(data: bytes, rng: np.random.Generator, suffix: str) -> tuple[bytes, str] | None:
    """Overwrite one known header field of a ``suffix`` file; None when none is found."""
    found = [(f, p) for f in CONTAINERS.get(suffix.lower(), []) if (p := locate(data, f)) is not None]
    if not found:
        return None
    field, pos = found[int(rng.integers(0, len(found)))]
    value, label = hostile_value(rng, field.width)
    return write_field(data, pos, field, value), f"header {field.name}={label}"


def set_field(data: bytes, suffix: str, name: str, value: int | float) -> bytes:
    """``data`` with the field called ``name`` set to ``value`` (floats as IEEE doubles/floats).

    Raises ValueError naming the field and the fields known for ``suffix`` when it is absent.
    """
    fields = CONTAINERS.get(suffix.lower(), [])
    for f in fields:
        if f.name == name and (pos := locate(data, f)) is not None:
            if isinstance(value, float):
                raw = struct.pack(">d" if f.width == 8 else ">f", value)
                return data[:pos] + raw + data[pos + f.width :]
            return write_field(data, pos, f, value)
    known = sorted({f.name for f in fields})
    raise ValueError(f"field {name!r} not found in this {suffix} file; known: {', '.join(known)}")
