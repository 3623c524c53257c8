"""Memory of a process tree read from /proc: peak RSS of its largest process and summed PSS.

Peak RSS is VmHWM, which starts afresh at exec, so a child does not inherit the peak of the
large process that spawned it (``ru_maxrss`` does). :class:`TreeMemory` samples a running
tree in a thread; everything reads 0 where /proc is absent.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


def proc_kb(pid: int, name: str, key: str) -> int | None:
    """The ``key:`` line of ``/proc/<pid>/<name>`` in KiB; None where it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def pss_kb(pid: int, rss_pages: int) -> int:
    """Proportional set size of ``pid`` in KiB (pages shared after fork counted once); RSS if unknown."""
    pss = proc_kb(pid, "smaps_rollup", "Pss")
    return pss if pss is not None else rss_pages * os.sysconf("SC_PAGE_SIZE") // 1024


def hwm_kb(pid: int) -> int:
    """Peak RSS (VmHWM, KiB) of ``pid``'s current address space; 0 where it cannot be read."""
    return proc_kb(pid, "status", "VmHWM") or 0


def tree(pid: int) -> dict[int, int]:
    """RSS pages of ``pid`` and each of its descendants, from /proc (empty where /proc is absent)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            parents[int(entry)], rss[int(entry)] = int(fields[1]), int(fields[21])
        except (OSError, ValueError, IndexError):
            continue
    members, frontier = {pid}, [pid]
    while frontier:
        kids = [p for p, pp in parents.items() if pp in frontier and p not in members]
        members.update(kids)
        frontier = kids
    return {p: rss[p] for p in members if p in rss}


def tree_memory_mb(pid: int) -> tuple[float, float]:
    """(summed PSS of ``pid``'s process tree, peak RSS of its largest process so far), in MiB."""
    members = tree(pid)
    summed = sum(pss_kb(p, pages) for p, pages in members.items()) / 1024
    return summed, max((hwm_kb(p) for p in members), default=0) / 1024


class TreeMemory:
    """Peaks of ``pid``'s process tree while the ``with`` block runs, sampled in a thread.

    The first samples come quickly (interval / 32, doubling up to ``interval`` seconds) so a
    short-lived process is still caught; VmHWM keeps each process's peak between samples.
    ``peak_rss_mb``: largest VmHWM of any process; ``peak_tree_mb``: largest summed PSS (MiB).
    """

    def __init__(self, pid: int, interval: float = 0.2):
        self.pid, self.interval = pid, interval
        self.peak_rss_mb = self.peak_tree_mb = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> None:
        summed, largest = tree_memory_mb(self.pid)
        self.peak_tree_mb = max(self.peak_tree_mb, summed)
        self.peak_rss_mb = max(self.peak_rss_mb, largest)

    def _loop(self) -> None:
        wait = self.interval / 32
        while not self._done.wait(wait):
            self.sample()
            wait = min(self.interval, 2 * wait)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
