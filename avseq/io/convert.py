"""Decoded frame -> ``uint8 (3, H, W)`` RGB tensor, resized and turned upright.

Resizing happens in the same libswscale call as the pixel-format conversion
(PyAV ``reformat``); rotation follows the frame's display matrix. Conversions go
through a kept :class:`~av.video.reformatter.VideoReformatter` with one swscale
thread: PyAV's ``frame.reformat`` builds a new scaler, with a thread pool sized to
the machine, for every frame, which took 7-8 ms per frame here, from 64x64 to
604x340, against 0.005-0.5 ms for the kept one; one thread also makes the pixels
independent of the machine's core count. A :class:`FrameWriter` may run them on one
worker thread while the decoder works, and a :class:`BufferPool` hands consecutive
windows warm buffers: at 1080p, fresh pages cost more than the conversion itself.
"""

from __future__ import annotations

import mmap
import weakref
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from avseq.io.geometry import Cover
from avseq.io.raw import RawFrames

if TYPE_CHECKING:
    from avseq.types import Frames

SizeArg = int | tuple[int, int] | Cover | None


def validate_size(size: SizeArg) -> SizeArg:
    """Check ``size``: None, a positive int (short side), a (H, W) pair of positive ints or a Cover."""
    if size is None or isinstance(size, Cover):
        return size
    if isinstance(size, int) and not isinstance(size, bool):
        if size <= 0:
            raise ValueError(f"Invalid size {size}: the short side must be a positive int")
        return size
    if (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)
    ):
        return (int(size[0]), int(size[1]))
    raise ValueError(f"Invalid size {size!r}: expected None, an int (short side) or (H, W) positive ints")


def display_size(width: int, height: int, size: SizeArg) -> tuple[int, int]:
    """(H, W) of the output for a displayed ``width`` x ``height`` frame and a ``size`` argument."""
    if size is None:
        return height, width
    if isinstance(size, tuple):
        return size
    if isinstance(size, Cover):
        return size.output(height, width)
    if height <= width:
        return size, max(1, round(width * size / height))
    return max(1, round(height * size / width)), size


def _upright_geometry(frame: av.VideoFrame, size: SizeArg) -> tuple[int, int, int]:
    """(quarter turns counter-clockwise, coded width, coded height) to reformat ``frame`` to."""
    rotation = int(frame.rotation or 0) % 360
    quarter = rotation // 90 if rotation % 90 == 0 else 0
    disp_w, disp_h = (frame.height, frame.width) if quarter % 2 else (frame.width, frame.height)
    out_h, out_w = display_size(disp_w, disp_h, size)
    coded_w, coded_h = (out_h, out_w) if quarter % 2 else (out_w, out_h)
    return quarter, coded_w, coded_h


def output_shape(frame: av.VideoFrame, size: SizeArg) -> tuple[int, int]:
    """(H, W) of ``frame`` once turned upright and resized to ``size``."""
    quarter, w, h = _upright_geometry(frame, size)
    return (w, h) if quarter % 2 else (h, w)


def write_frame(
    dst: np.ndarray, frame: av.VideoFrame, size: SizeArg = None, reformatter: VideoReformatter | None = None
) -> None:
    """Write ``frame`` as ``uint8 (3, H, W)`` RGB into ``dst``: upright, resized to ``size``.

    libswscale converts straight to planar RGB (``gbrp``) at the output size, and
    the planes are copied into ``dst`` without an HWC -> CHW transposition. Pass the
    same ``reformatter`` for every frame of a stream to reuse its scaler.
    """
    quarter, w, h = _upright_geometry(frame, size)
    reformatter = reformatter if reformatter is not None else VideoReformatter()
    planar = reformatter.reformat(frame, width=w, height=h, format="gbrp", threads=1)
    chw = np.empty((3, h, w), np.uint8) if quarter else dst
    for channel, plane_index in enumerate(_GBRP_TO_RGB):
        plane = planar.planes[plane_index]
        rows = np.frombuffer(plane, np.uint8).reshape(h, plane.line_size)[:, :w]
        np.copyto(chw[channel], rows)
    if quarter:
        np.copyto(dst, np.rot90(chw, k=quarter, axes=(1, 2)))


_GBRP_TO_RGB = (2, 0, 1)  # gbrp stores planes G, B, R
INITIAL_BYTES = 1 << 29  # first buffer at most 512 MiB; it doubles when more frames come


def _fresh(shape: tuple[int, ...]) -> np.ndarray:
    """A new ``uint8`` buffer in an anonymous mapping of its own, unmapped when the last view goes.

    numpy's own large arrays are advised into huge pages, for which the kernel compacts memory
    on first touch: 0.87 s for the first 400 MB here against 0.16-0.2 s for a plain mapping
    (torch's allocator, used before, took 0.16 s).
    """
    size = max(1, int(np.prod(shape)))
    return np.frombuffer(mmap.mmap(-1, size), np.uint8, count=int(np.prod(shape))).reshape(shape)


def _anchor(buf: np.ndarray) -> np.ndarray:
    """A flat array over ``buf`` that its views and slices refer to (its base is not an array)."""
    return np.frombuffer(memoryview(buf.reshape(-1)), np.uint8)


class BufferPool:
    """Frame buffers reused once nothing holds the tensors made from them (``iter_video`` windows).

    Fresh memory costs more than the conversion that fills it: first-touch page faults cost
    0.4-0.7 ms per MiB here, 2-3 ms per 1080p frame against 1.2 ms for the swscale conversion,
    and every buffer above 32 MiB comes fresh from the kernel. Each :meth:`take` hands out a new
    view of a kept buffer through an anchor array of its own: numpy points every view and slice
    of it at that anchor (a plain view chain collapses to the buffer), and ``torch.from_numpy``
    makes a tensor's storage hold its array, so any slice, tensor or DLPack export of the
    returned data keeps the anchor alive, and the buffer is taken again only after the anchor is
    gone (a weak reference tells). A storage moved to
    shared memory (``share_memory_``, DataLoader workers) copies out and lets go of it.
    keep: buffers held at most; two serve a loop that holds one window while the next is filled.
    """

    def __init__(self, keep: int = 2):
        self.keep = keep
        self._slots: list[tuple[np.ndarray, weakref.ref]] = []

    def take(self, shape: tuple[int, ...]) -> np.ndarray:
        """A ``uint8`` buffer of ``shape`` that no tensor made by this pool still uses."""
        for i, (buf, holder) in enumerate(self._slots):
            if buf.shape == shape and holder() is None:
                anchor = _anchor(buf)
                self._slots[i] = (buf, weakref.ref(anchor))
                return anchor.reshape(shape)
        buf = _fresh(shape)
        anchor = _anchor(buf)
        self._slots = [*self._slots, (buf, weakref.ref(anchor))][-self.keep :]
        return anchor.reshape(shape)


class FrameWriter:
    """Runs :func:`write_frame` for one decode, with one kept scaler, in order.

    background: convert on one worker thread, so that the decoder works on the next frames
    meanwhile (at most ``AHEAD`` frames wait); swscale still runs one thread at a time, so the
    pixels are those of the calling thread. Otherwise every call converts before it returns.
    Use it as a context manager (or call :meth:`close`) to stop the worker.
    """

    AHEAD = 4

    def __init__(self, size: SizeArg, background: bool = False):
        self.size = size
        self._reformatter = VideoReformatter()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="avseq-convert") if background else None
        self._pending: deque[Future] = deque()

    def write(self, dst: np.ndarray, frame: av.VideoFrame) -> None:
        """Convert ``frame`` into ``dst`` (``uint8 (3, H, W)``), now or on the worker."""
        self._run(write_frame, dst, frame, self.size, self._reformatter)

    def copy(self, dst: np.ndarray, src: np.ndarray) -> None:
        """Copy ``src`` into ``dst`` once the writes queued before it are done."""
        self._run(np.copyto, dst, src)

    def wait(self) -> None:
        """Block until every queued write is done; re-raises the first error."""
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        """Stop the worker once its current write is done; writes still queued are dropped (call
        :meth:`wait` first to keep them), so an error already on its way out is not replaced."""
        self._pending.clear()
        if self._worker is not None:
            self._worker.shutdown(cancel_futures=True)

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self, fn, *args) -> None:
        if self._worker is None:
            fn(*args)
            return
        self._pending.append(self._worker.submit(fn, *args))
        while len(self._pending) > self.AHEAD:
            self._pending.popleft().result()


class FrameStack:
    """Builds ``Frames`` from decoded frames, writing each straight into one preallocated buffer.

    capacity: expected frame count (the buffer starts at most 512 MiB and doubles when full). A
    frame chosen twice in a row (sampling faster than the file) is copied, not converted again.
    pool: where the first buffer comes from (consecutive windows of one decode share one); without
    it each stack allocates its own and trims it when the capacity was far too high. writer: the
    decode's :class:`FrameWriter` (default: one of its own that converts on the calling thread).
    """

    def __init__(
        self,
        size: SizeArg,
        capacity: int = 16,
        pool: BufferPool | None = None,
        writer: FrameWriter | None = None,
    ):
        self.size = size
        self.capacity = max(1, capacity)
        self._pool = pool
        self._writer = writer if writer is not None else FrameWriter(size)
        self._buf: np.ndarray | None = None
        self._pts: list[float] = []
        self._last: av.VideoFrame | None = None

    def __len__(self) -> int:
        return len(self._pts)

    def add(self, frame: av.VideoFrame, pts: float) -> None:
        """Append ``frame`` (shown from ``pts`` seconds)."""
        n = len(self._pts)
        if self._buf is None:
            h, w = output_shape(frame, self.size)
            shape = (min(self.capacity, max(16, INITIAL_BYTES // (3 * h * w))), 3, h, w)
            self._buf = self._pool.take(shape) if self._pool is not None else _fresh(shape)
        elif n == len(self._buf):
            self._writer.wait()
            grown = _fresh((2 * n, *self._buf.shape[1:]))
            grown[:n] = self._buf
            self._buf = grown
        if frame is self._last:
            self._writer.copy(self._buf[n], self._buf[n - 1])
        else:
            self._writer.write(self._buf[n], frame)
            self._last = frame
        self._pts.append(pts)

    def raw(self) -> RawFrames:
        """The frames so far as arrays: data ``uint8 (T, 3, H, W)``, pts ``(T,)`` seconds."""
        self._writer.wait()
        n = len(self._pts)
        pts = np.array(self._pts, dtype=np.float64)
        if self._buf is None:
            h, w = self.size if isinstance(self.size, tuple) else (0, 0)
            return RawFrames(np.zeros((0, 3, h, w), dtype=np.uint8), pts)
        data = self._buf[:n]
        trim = self._pool is None and n < len(self._buf) // 2
        return RawFrames(data.copy() if trim else data, pts)

    def frames(self) -> Frames:
        """The frames so far as :class:`~avseq.types.Frames` (tensors over the same buffer)."""
        return self.raw().load()
