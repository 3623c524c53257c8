"""Packet tables: every packet's timestamps from one demux pass, no decoding.

Used by :func:`avseq.io.probe.probe` (durations of files whose header has
none, exact frame counts, measured VFR) and by the fast video decoder to plan
which packets must be decoded.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

MISSING = np.iinfo(np.int64).min  # a packet without this timestamp


@dataclass(frozen=True)
class PacketTable:
    """The packets of one stream in decode order.

    pts, dts, duration: (P,) int64 in ``time_base`` units (``MISSING`` when absent);
    is_key: (P,) bool.
    """

    time_base: Fraction
    pts: np.ndarray
    dts: np.ndarray
    duration: np.ndarray
    is_key: np.ndarray

    def __len__(self) -> int:
        return len(self.pts)

    @property
    def has_pts(self) -> bool:
        """True when every packet carries a presentation timestamp."""
        return bool(len(self.pts)) and bool((self.pts != MISSING).all())

    def end_seconds(self) -> float | None:
        """End of the last shown packet (pts + duration) in seconds; None without pts."""
        if not self.has_pts:
            return None
        return float(int((self.pts + np.maximum(self.duration, 0)).max()) * self.time_base)

    def frame_durations(self) -> np.ndarray:
        """(P-1,) seconds between consecutive presentation times."""
        return np.diff(np.sort(self.pts)).astype(np.float64) * float(self.time_base)


def scan_streams(
    container: av.container.InputContainer, streams: list[av.stream.Stream]
) -> dict[int, PacketTable]:
    """Demux every packet of ``streams`` in one pass from the start (no decoding).

    Returns one table per stream index.
    """
    container.seek(0)
    cols: dict[int, tuple[list, list, list, list]] = {s.index: ([], [], [], []) for s in streams}
    for packet in container.demux(*streams):
        if packet.size == 0:
            continue
        pts, dts, dur, key = cols[packet.stream.index]
        pts.append(MISSING if packet.pts is None else packet.pts)
        dts.append(MISSING if packet.dts is None else packet.dts)
        dur.append(packet.duration or 0)
        key.append(packet.is_keyframe)
    return {s.index: _table(s.time_base, *cols[s.index]) for s in streams}


def scan_stream(container: av.container.InputContainer, stream: av.stream.Stream) -> PacketTable:
    """Demux every packet of one ``stream`` from the start (no decoding)."""
    return scan_streams(container, [stream])[stream.index]


def _table(time_base: Fraction, pts: list, dts: list, dur: list, key: list) -> PacketTable:
    return PacketTable(
        time_base=time_base,
        pts=np.asarray(pts, dtype=np.int64),
        dts=np.asarray(dts, dtype=np.int64),
        duration=np.asarray(dur, dtype=np.int64),
        is_key=np.asarray(key, dtype=bool),
    )


def is_vfr(table: PacketTable, tolerance: float = 0.01) -> bool:
    """True when frame-to-frame durations differ by more than ``tolerance`` (relative)."""
    d = table.frame_durations()
    d = d[d > 0]
    if len(d) < 2:
        return False
    return float(d.max() - d.min()) > tolerance * float(np.median(d))
