"""Frame sources: decoded ``av.VideoFrame`` objects in presentation order.

``exact_frames`` decodes every frame. ``planned_frames`` decodes only what a
plan needs: it skips whole GOPs that hold no wanted frame (seeking over long
gaps), asks the codec to skip non-reference frames that are not wanted
(``skip_frame="NONREF"``), and stops after the last wanted packet. A plan that
turns out not to match the file raises :class:`PlanMismatch`, and the caller
falls back to the exact decoder.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from avseq.errors import MediaError, NoStreamError
from avseq.io.hwaccel import DecodePlace, is_hwaccel_error
from avseq.io.opener import map_error, open_media
from avseq.io.scan import MISSING, PacketTable

REORDER_DEPTH = 16  # frames buffered to restore presentation order
PLANNABLE_FORMATS = frozenset({"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "flv", "mpegts", "ogg"})
SEEK_MIN_GOPS = 2  # seek instead of demuxing through when at least this many GOPs are skipped


class PlanMismatch(Exception):
    """The file's packets did not match the decode plan (internal; triggers the exact path)."""


@contextlib.contextmanager
def open_video(path: str | Path, stream: int, *, threads: int = 0, place: DecodePlace | None = None):
    """Open ``path`` and yield ``(container, video_stream)`` configured for decoding.

    place: where the decode should run (``DecodePlace(path, "cuda")`` for NVDEC); a device that
    cannot be created, or a codec without an NVDEC decoder, falls back to the CPU and ``place``
    records why. None: the CPU.
    """
    place = place if place is not None else DecodePlace(path, None)
    options = place.open_options()
    with contextlib.ExitStack() as stack:
        try:
            container = stack.enter_context(open_media(path, **options))
        except MediaError as err:
            if not options or not is_hwaccel_error(err.__cause__):
                raise
            place.open_failed(err.__cause__)
            container = stack.enter_context(open_media(path))
        n = len(container.streams.video)
        if not 0 <= stream < n:
            raise NoStreamError(path, f"no video stream {stream} (the file has {n} video streams)")
        vs = container.streams.video[stream]
        vs.thread_type = "AUTO"
        vs.codec_context.thread_count = threads
        place.opened(vs.codec_context)
        yield container, vs


def in_pts_order(frames: Iterator[av.VideoFrame], depth: int = REORDER_DEPTH) -> Iterator[av.VideoFrame]:
    """Re-sort frames whose timestamps come out of the decoder slightly out of order.

    Some files (AVI with packed B-frames) emit timestamps like 1, 2, 4, 3, 5;
    a buffer of ``depth`` frames restores presentation order. Frames without pts are dropped.
    """
    if depth == 0:
        yield from (f for f in frames if f.pts is not None)
        return
    heap: list = []
    counter = itertools.count()
    for frame in frames:
        if frame.pts is None:
            continue
        heapq.heappush(heap, (frame.pts, next(counter), frame))
        if len(heap) > depth:
            yield heapq.heappop(heap)[2]
    while heap:
        yield heapq.heappop(heap)[2]


def supports_planning(container: av.container.InputContainer) -> bool:
    """True when the container stores presentation timestamps the fast planner can trust."""
    return container.format.name in PLANNABLE_FORMATS


def exact_frames(container: av.container.InputContainer, vs) -> Iterator[av.VideoFrame]:
    """Every frame of ``vs`` from the start, in presentation order.

    Containers with real timestamps come out of the decoder in order; others
    (AVI) go through a small reorder buffer.
    """
    container.seek(0)
    depth = 0 if supports_planning(container) else REORDER_DEPTH
    yield from in_pts_order((_with_time_base(f, vs) for f in container.decode(vs)), depth)


@dataclass(frozen=True)
class Plan:
    """What to decode: packet indices (decode order) of wanted frames, grouped by GOP.

    segments: (first, last) packet index ranges to feed the decoder, ascending.
    """

    table: PacketTable
    wanted: frozenset[int]
    segments: tuple[tuple[int, int], ...]


def make_plan(table: PacketTable, wanted_packets: np.ndarray) -> Plan:
    """Group ``wanted_packets`` (indices into ``table``) into GOP segments to decode.

    Each segment starts at the last keyframe at or before its wanted packets
    (packet 0 when none precedes them) and ends at the last wanted packet of that GOP.
    """
    wanted_packets = np.unique(wanted_packets)
    keys = np.union1d([0], np.flatnonzero(table.is_key))
    starts = keys[np.searchsorted(keys, wanted_packets, side="right") - 1]
    segments = tuple((int(start), int(wanted_packets[starts == start].max())) for start in np.unique(starts))
    return Plan(table, frozenset(int(i) for i in wanted_packets), segments)


def _matches(packet: av.Packet, table: PacketTable, i: int) -> bool:
    return packet.pts == table.pts[i] and (
        packet.dts is None or table.dts[i] == MISSING or packet.dts == table.dts[i]
    )


def _with_time_base(frame: av.VideoFrame, vs) -> av.VideoFrame:
    if frame.time_base is None:
        frame.time_base = vs.time_base
    return frame


def _drain(vs) -> Iterator[av.VideoFrame]:
    for frame in vs.decode(None):
        yield _with_time_base(frame, vs)
    vs.codec_context.flush_buffers()


def _seek_to(container, vs, table: PacketTable, i: int):
    target = int(table.pts[i]) if table.dts[i] == MISSING else int(min(table.pts[i], table.dts[i]))
    container.seek(target, stream=vs, backward=True, any_frame=False)
    return container.demux(vs), None


def _advance(packets, table: PacketTable, idx: int | None, first: int):
    """Read packets until the one at plan index ``first``; returns (packet, index)."""
    for packet in packets:
        if packet.size == 0:
            continue
        if idx is None:  # after a seek: find our place by timestamps
            if _matches(packet, table, first):
                return packet, first
            if packet.dts is not None and table.dts[first] != MISSING and packet.dts > table.dts[first]:
                raise PlanMismatch(f"seek overshot packet {first}")
            continue
        idx += 1
        if idx == first:
            if not _matches(packet, table, idx):
                raise PlanMismatch(f"packet {idx} differs from the plan")
            return packet, idx
    raise PlanMismatch(f"packet {first} not found")


def planned_frames(container, vs, plan: Plan) -> Iterator[av.VideoFrame]:
    """Decode only the plan's segments; yields frames in presentation order."""
    return in_pts_order(_planned(container, vs, plan), depth=0)


def _planned(container, vs, plan: Plan) -> Iterator[av.VideoFrame]:
    cc, table = vs.codec_context, plan.table
    container.seek(0)
    packets, idx, prev_last, seen = container.demux(vs), -1, -1, set()
    for first, last in plan.segments:
        if first != prev_last + 1:
            if prev_last >= 0:
                for frame in _drain(vs):
                    seen.add(frame.pts)
                    yield frame
            if int(table.is_key[prev_last + 1 : first].sum()) >= SEEK_MIN_GOPS:
                packets, idx = _seek_to(container, vs, table, first)
        packet, idx = _advance(packets, table, idx, first)
        while True:
            cc.skip_frame = "DEFAULT" if idx in plan.wanted else "NONREF"
            for frame in vs.decode(packet):
                seen.add(frame.pts)
                yield _with_time_base(frame, vs)
            if idx == last:
                break
            packet, idx = _advance(packets, table, idx, idx + 1)
        prev_last = last
    cc.skip_frame = "DEFAULT"
    for frame in vs.decode(None):
        seen.add(frame.pts)
        yield _with_time_base(frame, vs)
    missing = {int(table.pts[i]) for i in plan.wanted} - seen
    if missing:
        raise PlanMismatch(f"{len(missing)} wanted frames were not decoded")


def wrap_errors(path, frames: Iterator[av.VideoFrame]) -> Iterator[av.VideoFrame]:
    """Re-raise PyAV errors from ``frames`` as avseq errors naming ``path``."""
    try:
        yield from frames
    except PlanMismatch:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise map_error(path, err) from err
