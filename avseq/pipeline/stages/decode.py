"""Source stages, run in the decode workers: ``decode_video`` and ``decode_audio``."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, model_validator

from avseq.errors import ConfigError, CorruptMediaError
from avseq.pipeline.memory import MemoryBudget, available_cores
from avseq.pipeline.stages.base import StageType, register
from avseq.pipeline.stages.contract import NeedContext, frame_needs
from avseq.pipeline.workers import FileDone, Window

Size = PositiveInt | tuple[PositiveInt, PositiveInt]


class DecodeVideoParams(BaseModel):
    """fps: sample at this rate; or num_frames: N uniform frames (per window when windowed). Left
    out (the usual case), the decode samples exactly what each branch downstream needs.
    size: int (shorter side) or [H, W] applied while decoding; left out, frames leave the decoder
    scaled (aspect kept, never up) to cover the largest size a branch uses. window: seconds per
    window for long files (None = whole file as one clip); the run's ``memory`` budget may cut a
    window shorter. mode: fast (decode only what is needed) or exact. threads: decoder threads per
    worker (None: the machine's cores shared among the workers that have a file). hwaccel: cuda
    decodes with NVDEC (as the stage's own ``device: cuda`` does); a file NVDEC cannot take
    decodes on the CPU, and its results line says so and why."""

    model_config = ConfigDict(extra="forbid")
    fps: PositiveFloat | None = None
    num_frames: PositiveInt | None = None
    size: Size | None = None
    window: PositiveFloat | None = None
    mode: Literal["fast", "exact"] = "fast"
    stream: int = Field(0, ge=0)
    threads: int | None = Field(None, ge=0, description="decoder threads per worker (0 = FFmpeg's choice)")
    hwaccel: Literal["cuda"] | None = Field(None, description="cuda: decode with NVDEC where it can")

    @model_validator(mode="after")
    def _one_sampling(self) -> DecodeVideoParams:
        from avseq.io.sampling import check_sampling

        check_sampling(self.fps, self.num_frames)
        return self


class DecodeAudioParams(BaseModel):
    """sample_rate: resample to this rate (None = the file's); mono: the mean of all channels."""

    model_config = ConfigDict(extra="forbid")
    sample_rate: PositiveInt | None = None
    mono: bool = True
    stream: int = Field(0, ge=0)


def decode_hwaccel(stage: Any) -> str | None:
    """Where a ``decode_video`` stage decodes: "cuda" or "cuda:N" (NVDEC), or None (the CPU).

    Its own ``device`` (cuda, cuda:N; auto: cuda where NVDEC is available) or ``params.hwaccel``
    decide; the pipeline's top-level ``device`` is the models' and leaves decoding on the CPU.
    """
    from avseq.io.hwaccel import cuda_decode_available

    if stage.device == "auto":
        return "cuda" if cuda_decode_available() else None
    if stage.device is not None and stage.device.startswith("cuda"):
        return stage.device
    return stage.params.hwaccel


def _check_decode_device(stage: Any, ctx: NeedContext) -> None:
    """Refuse a decode device other than cpu / cuda, a ``device`` that contradicts ``hwaccel``,
    and NVDEC asked for (not ``auto``) where there is none, as the model stages refuse CUDA."""
    from avseq.io.hwaccel import cuda_decode_available

    device, hwaccel = stage.device, stage.params.hwaccel
    where = f"{ctx.where(stage, 'device')} ({stage.id})"
    if device is not None and device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise ConfigError(f"{where}: decode_video decodes on cpu or cuda (NVDEC), not {device!r}")
    if device == "cpu" and hwaccel is not None:
        raise ConfigError(f"{where}: device 'cpu' contradicts params.hwaccel {hwaccel!r}; keep one of them")
    if device != "auto" and decode_hwaccel(stage) is not None and not cuda_decode_available():
        raise ConfigError(
            f"{where}: asks for NVDEC decoding, which is not available here (no NVIDIA GPU, or FFmpeg "
            f"built without CUDA); use device cpu or auto"
        )


def _decode_needs(stage: Any, wanted: list[Any], ctx: NeedContext) -> list[Any]:
    """Refuse a sampling set in the file that is slower than a branch needs, and a decode device
    that cannot be; the rest is planned."""
    from avseq.io.sampling import same_rate

    _check_decode_device(stage, ctx)
    p = stage.params
    for need in frame_needs(wanted):
        if p.fps is not None and need.fps is not None and p.fps < need.fps and not same_rate(p.fps, need.fps):
            raise ConfigError(
                f"{ctx.where(stage)} ({stage.id}) sets fps={p.fps} but {need.origin} needs "
                f"fps={need.fps:g}; decode at least that fast or remove the key"
            )
    return []


class DecodeVideo:
    """Decodes one file into windows of :class:`~avseq.types.DecodedVideo` (made in the worker as
    :class:`~avseq.io.raw.RawVideo`): uint8 frames for every sampling its consumers need, scaled
    in the decoder to cover the largest size any of them uses, decoded with NVDEC when the stage
    asks for it (:func:`decode_hwaccel`)."""

    def __init__(self, spec: Any, ctx: Any) -> None:
        from avseq.io.sampling import Sampling

        self.id, self.params, self.limits = spec.id, spec.params, ctx.limits()
        self.hwaccel = decode_hwaccel(spec)
        p, needs = spec.params, ctx.spec.needs_of(spec.id)
        own = Sampling(p.fps, p.num_frames) if (p.fps or p.num_frames) else None
        rated = {n.consumer: Sampling(n.fps, n.num_frames) for n in needs if n.fps or n.num_frames}
        self.samplings = list(dict.fromkeys([*([own] if own else []), *rated.values()]))
        # consumer id -> index of its sampling; a consumer without one takes the decode's own, or all
        self.picks = {c: self.samplings.index(s) for c, s in rated.items()}
        if own is not None:
            self.picks |= {n.consumer: 0 for n in needs if n.consumer not in rated}
        self.size = _decode_size(p.size, needs)
        self.max_bytes = MemoryBudget(ctx.spec.memory).window_bytes
        self.threads = p.threads if p.threads is not None else 1

    def plan_threads(self, busy_workers: int) -> None:
        """Share the cores among ``busy_workers`` decoding at once (unless the file sets threads)."""
        if self.params.threads is None:
            self.threads = max(1, available_cores() // max(1, busy_workers))

    def _options(self) -> dict[str, Any]:
        p = self.params
        return dict(size=self.size, mode=p.mode, stream=p.stream, threads=self.threads, limits=self.limits,
                    hwaccel=self.hwaccel)  # fmt: skip

    def clip_bytes(self) -> int:
        """The most bytes of uint8 frames one window of this decode holds: the window budget, or
        less where the window length, the samplings and the frame size say so (a source frame of
        REFERENCE_SOURCE is assumed for a size that depends on the file)."""
        frames = self._frames_per_window()
        if frames is None or self.size is None:
            return self.max_bytes
        h, w = _output_size(self.size)
        return min(self.max_bytes, frames * 3 * h * w)

    def _frames_per_window(self) -> int | None:
        window = self.params.window
        if window is None or not self.samplings:
            return None
        return sum(s.num_frames or math.ceil(window * s.fps) for s in self.samplings)

    def windows(self, path: Path) -> Iterator[tuple[float, float, Any, Any]]:
        """(start, end, RawVideo, DecodedOn) per window (one window spanning the file without
        ``window``); a window is cut early once its frames would pass the run's window budget.
        DecodedOn: where the decode ran so far (NVDEC, or the CPU and why)."""
        from avseq.io.raw import RawVideo
        from avseq.io.windows import iter_sampled_arrays

        options = dict(window=self.params.window, max_bytes=self.max_bytes, **self._options())
        for w in iter_sampled_arrays(path, self.samplings, **options):
            picks = {c: w.picks[i] for c, i in self.picks.items()}
            yield w.start, w.end, RawVideo(w.frames, picks), w.decoded_on


REFERENCE_SOURCE = (1080, 1920)  # (H, W) a decode size that depends on the file is estimated for


def _output_size(size: Any) -> tuple[int, int]:
    """(H, W) that a decode ``size`` gives a REFERENCE_SOURCE frame."""
    from avseq.io.convert import display_size

    return display_size(REFERENCE_SOURCE[1], REFERENCE_SOURCE[0], size)


def _decode_size(size: Any, needs: list[Any]) -> Any:
    """The file's own ``size``; else scale to cover every consumer's size (None: full size)."""
    from avseq.io.geometry import Cover

    if size is not None:
        return tuple(size) if isinstance(size, (list, tuple)) else size
    if not needs or any(n.size is None for n in needs):
        return None
    sizes = tuple(dict.fromkeys(tuple(n.size) for n in needs))
    return Cover(sizes, stretch=all(n.transform == "resize" for n in needs))


class DecodeAudio:
    """Decodes the audio of one window into Audio (C, N) at the requested rate (made in the
    worker as :class:`~avseq.io.raw.RawAudio`)."""

    def __init__(self, spec: Any, ctx: Any) -> None:
        self.id, self.params, self.limits = spec.id, spec.params, ctx.limits()

    def clip_bytes(self) -> int:
        """Audio goes to the sinks, not to the model device: nothing there."""
        return 0

    def decode(self, path: Path, start: float = 0.0, end: float | None = None) -> Any:
        from avseq.io.audio import decode_audio_arrays

        p = self.params
        return decode_audio_arrays(
            path,
            sample_rate=p.sample_rate,
            channels=1 if p.mono else None,
            stream=p.stream,
            start=start,
            end=end,
            limits=self.limits,
        )


def make_decoder(plan: Any, busy_workers: int = 1) -> FileDecoder:
    """What a decode worker runs per file: Window messages, then FileDone (see :class:`FileDecoder`).

    busy_workers: how many workers decode at once (their decoder threads share the cores).
    """
    video = next((plan.objects[s.id] for s in plan.sources if s.type == "decode_video"), None)
    audio = next((plan.objects[s.id] for s in plan.sources if s.type == "decode_audio"), None)
    if video is not None:
        video.plan_threads(busy_workers)
    return FileDecoder(video, audio)


class FileDecoder:
    """Decodes one file into Window messages, then a FileDone that says where its frames were
    decoded. Picklable, so a worker may be spawned as well as forked.

    start_method: how its worker processes start (:class:`~avseq.pipeline.workers.DecodePool`
    reads it). ``fork``, before the main process imports torch, unless the decode uses NVDEC:
    then ``spawn``, because CUDA cannot be used in a process forked from one that has initialised
    it (the models on the GPU, an earlier run in the same process, a replacement worker forked
    mid-run), while a spawned worker starts clean.
    """

    def __init__(self, video: DecodeVideo | None, audio: DecodeAudio | None) -> None:
        self.video, self.audio = video, audio

    @property
    def start_method(self) -> str:
        return "spawn" if self.video is not None and self.video.hwaccel else "fork"

    def __call__(self, path: Path) -> Iterator[Window | FileDone]:
        video, audio = self.video, self.audio
        if video is None:
            wave = audio.decode(path)
            yield Window(-1, 0, 0.0, wave.duration, {audio.id: wave})
            yield FileDone(-1, 1, wave.duration, 0.0)
            return
        from avseq.io.hwaccel import CpuFallbackWarning

        pts, end, n, decoded_on = [], 0.0, 0, None
        with warnings.catch_warnings():  # a CPU fallback goes to the results line, not to stderr
            warnings.simplefilter("ignore", CpuFallbackWarning)
            for n, (start, stop, decoded, where) in enumerate(video.windows(path), start=1):
                values, decoded_on = {video.id: decoded}, where
                if audio is not None:
                    values[audio.id] = audio.decode(path, start, stop)
                pts.append(decoded.frames.pts)
                end = stop
                yield Window(-1, n - 1, start, stop, values)
        all_pts = np.concatenate(pts) if pts else np.zeros(0, dtype=np.float64)
        if len(all_pts) == 0:  # e.g. damaged codec parameters: packets there, but no frame decodes
            raise CorruptMediaError(path, "no video frame could be decoded")
        yield FileDone(-1, n, end if math.isfinite(end) else 0.0, 0.0, all_pts, decoded_on)


register(
    StageType(
        "decode_video",
        "source",
        DecodeVideoParams,
        DecodeVideo,
        (),
        "video",
        (0, 0),
        needs=_decode_needs,
    )
)
register(
    StageType(
        "decode_audio",
        "source",
        DecodeAudioParams,
        DecodeAudio,
        (),
        "audio",
        (0, 0),
    )
)
