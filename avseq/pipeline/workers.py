"""Decode worker processes with a per-file timeout.

Each worker is a forked process that decodes whole files (window by window) and
sends :class:`Window` messages, then :class:`FileDone` or :class:`FileFailed`. Workers start
before the main process imports torch and never import it: they send numpy values
(:mod:`avseq.io.raw`), which arrive as tensors. A decoder may ask for spawned workers instead
(its ``start_method``): NVDEC decoding does, since a forked child cannot use CUDA once its
parent has initialised it.
A feeder thread in the main process hands out files, moves messages into a
bounded queue (so decoding runs ahead of the models by at most ``prefetch``
windows) and kills a worker whose file exceeds the timeout, replacing it.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import pickle
import queue
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from avseq.pipeline.memory import peak_rss_bytes

if TYPE_CHECKING:
    from avseq.io.hwaccel import DecodedOn

START_METHODS = ("fork", "spawn")


@dataclass
class Window:
    """One decoded window of file ``key``: values by source stage id, [start, end) seconds."""

    key: int
    index: int
    start: float
    end: float
    values: dict[str, Any]
    nbytes: int = 0  # size on the wire, set when it arrives: what it holds in memory, near enough


@dataclass
class FileDone:
    """File ``key`` decoded into ``windows`` windows; duration in seconds; decoded_on: where its
    video frames were decoded (NVDEC, or the CPU and why; None without a video decode)."""

    key: int
    windows: int
    duration: float
    seconds: float
    pts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))  # every frame's, seconds
    decoded_on: DecodedOn | None = None


@dataclass
class FileFailed:
    """File ``key`` could not be decoded: error type name and one-line message."""

    key: int
    error_type: str
    message: str
    seconds: float = 0.0


Decoder = Callable[[Path], Iterator[Window | FileDone]]


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> None:
    """Have the kernel SIGKILL this worker when the process that forked it dies (Linux), so a
    killed run leaves no worker decoding on; elsewhere a worker ends at its next send. (The
    kernel watches the forking thread: a replacement worker, forked by the feeder thread, goes
    with it, once every file is done.)"""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the run died before the request took effect
        os._exit(1)


def _worker_main(conn: Connection, decode: Decoder, parent: int) -> None:
    _die_with_parent(parent)
    if "torch" in sys.modules:  # forked after the models loaded (a replacement worker)
        sys.modules["torch"].set_num_threads(1)
    while (task := conn.recv()) is not None:
        key, path = task
        start = time.perf_counter()
        try:
            for msg in decode(path):
                msg.key = key
                if isinstance(msg, FileDone):
                    msg.seconds = time.perf_counter() - start
                _send(conn, msg)
        except Exception as err:  # any failure is this file's, reported to the main process
            _send(conn, FileFailed(key, type(err).__name__, _one_line(err), time.perf_counter() - start))


def _send(conn: Connection, msg: Any) -> None:
    # Plain pickle copies tensor data (torch's shared-memory reducers would tie it to the sender's life).
    conn.send_bytes(pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL))


class _Worker:
    def __init__(self, decode: Decoder, start_method: str = "fork") -> None:
        ctx = mp.get_context(start_method)
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, decode, os.getpid()), daemon=True)
        self.proc.start()
        child.close()
        self.task: tuple[int, Path] | None = None
        self.deadline = 0.0

    def kill(self) -> int:
        """Stop the process; returns its peak resident memory in bytes (0 where unknown)."""
        peak = peak_rss_bytes(self.proc.pid) if self.proc.is_alive() else 0
        self.proc.kill()
        self.proc.join()
        self.conn.close()
        return peak


class DecodePool:
    """Decode ``tasks`` [(key, path)] in ``workers`` processes; read results from :meth:`events`.

    timeout: seconds one file may take (None = no limit). prefetch and max_bytes: bounds of
    the message queue in messages and in bytes (one message always fits), which keep memory
    flat however many, however long or however large the files are. The workers start as
    ``decode.start_method`` says (fork when it says nothing; spawn needs a picklable ``decode``).
    """

    def __init__(
        self,
        decode: Decoder,
        workers: int,
        timeout: float | None,
        prefetch: int,
        max_bytes: int | None = None,
    ) -> None:
        self._decode = decode
        self._start_method = getattr(decode, "start_method", "fork")
        if self._start_method not in START_METHODS:
            raise ValueError(f"Invalid start_method {self._start_method!r}. Supported: 'fork', 'spawn'")
        self._n = workers
        self._timeout = timeout
        self._queue: queue.Queue = queue.Queue(maxsize=max(prefetch, 1))
        self._max_bytes = max_bytes
        self._held = 0  # bytes of the messages in the queue
        self._room = threading.Condition()
        self.peak_rss = 0  # bytes: the largest peak resident memory of a worker that has ended
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._workers: list[_Worker] = []
        self._error: BaseException | None = None

    def start(self, tasks: list[tuple[int, Path]]) -> None:
        self._workers = [
            _Worker(self._decode, self._start_method) for _ in range(min(self._n, max(len(tasks), 1)))
        ]
        self._thread = threading.Thread(target=self._feed, args=(deque(tasks),), daemon=True)
        self._thread.start()

    def events(self) -> Iterator[Window | FileDone | FileFailed]:
        """Messages in arrival order until every task has finished or failed.

        Re-raises an unexpected error of the feeder thread (e.g. a worker that cannot start).
        """
        while (msg := self._queue.get()) is not None:
            if isinstance(msg, Window):
                with self._room:
                    self._held -= msg.nbytes
                    self._room.notify_all()
            yield msg
        if self._error is not None:
            raise self._error

    def idle(self) -> bool:
        """True when no decoded message is waiting (the models may run on a partial batch)."""
        return self._queue.empty()

    def close(self) -> None:
        """Stop feeding and kill the workers (safe to call twice)."""
        self._stop.set()
        if self._thread is not None:
            while self._thread.is_alive():
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    self._thread.join(0.05)
        for w in self._workers:
            self.peak_rss = max(self.peak_rss, w.kill())
        self._workers = []

    def __enter__(self) -> DecodePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _put(self, msg: Any) -> None:
        """Queue ``msg``; time spent blocked does not count against the busy workers' timeouts."""
        blocked = time.monotonic()
        if isinstance(msg, Window) and self._max_bytes is not None:
            with self._room:
                while self._held and self._held + msg.nbytes > self._max_bytes and not self._stop.is_set():
                    self._room.wait(0.1)
                self._held += msg.nbytes
        while not self._stop.is_set():
            try:
                self._queue.put(msg, timeout=0.1)
                break
            except queue.Full:
                continue
        waited = time.monotonic() - blocked
        for w in self._workers:
            w.deadline += waited

    def _feed(self, tasks: deque[tuple[int, Path]]) -> None:
        try:
            while (tasks or any(w.task for w in self._workers)) and not self._stop.is_set():
                self._assign(tasks)
                busy = {w.conn: w for w in self._workers if w.task}
                for conn in wait(list(busy), timeout=0.1):
                    self._receive(busy[conn])
                self._expire()
        except BaseException as err:  # surfaced by events() in the main thread
            self._error = err
        finally:
            if not self._stop.is_set():
                self._put(None)

    def _assign(self, tasks: deque[tuple[int, Path]]) -> None:
        for w in self._workers:
            if w.task is None and tasks:
                w.task = tasks.popleft()
                w.deadline = time.monotonic() + (self._timeout or float("inf"))
                w.conn.send(w.task)

    def _receive(self, w: _Worker) -> None:
        try:
            raw = w.conn.recv_bytes()
            msg = pickle.loads(raw)
        except (EOFError, OSError, pickle.UnpicklingError):
            key, path = w.task
            w.proc.join(timeout=1.0)  # reap it so its exit code is known
            message = f"{path}: the decode process died (exit code {w.proc.exitcode})"
            self._replace(w, FileFailed(key, "DecoderCrash", message))
            return
        if isinstance(msg, (FileDone, FileFailed)):
            w.task = None
        elif isinstance(msg, Window):
            msg.nbytes = len(raw)
        del raw
        self._put(msg)

    def _expire(self) -> None:
        now = time.monotonic()
        for w in list(self._workers):
            if w.task and now > w.deadline:
                key, path = w.task
                msg = f"{path}: decoding took longer than the per-file timeout of {self._timeout:g} s"
                self._replace(w, FileFailed(key, "TimeoutError", msg, float(self._timeout or 0)))

    def _replace(self, w: _Worker, failure: FileFailed) -> None:
        self.peak_rss = max(self.peak_rss, w.kill())
        self._workers[self._workers.index(w)] = _Worker(self._decode, self._start_method)
        self._put(failure)
