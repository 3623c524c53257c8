"""Source stages, run in the decode workers: ``decode_video`` and ``decode_audio``."""

from __future__ import annotations

import math
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
    worker (None: the machine's cores shared among the workers that have a file)."""

    model_config = ConfigDict(extra="forbid")
    fps: PositiveFloat | None = None
    num_frames: PositiveInt | None = None
    size: Size | None = None
    window: PositiveFloat | None = None
    mode: Literal["fast", "exact"] = "fast"
    stream: int = Field(0, ge=0)
    threads: int | None = Field(None, ge=0, description="decoder threads per worker (0 = FFmpeg's choice)")

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


def _decode_needs(stage: Any, wanted: list[Any], ctx: NeedContext) -> list[Any]:
    """Refuse a sampling set in the file that is slower than a branch needs; the rest is planned."""
    from avseq.io.sampling import same_rate

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
    in the decoder to cover the largest size any of them uses."""

    def __init__(self, spec: Any, ctx: Any) -> None:
        from avseq.io.sampling import Sampling

        self.id, self.params, self.limits = spec.id, spec.params, ctx.limits()
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
        return dict(size=self.size, mode=p.mode, stream=p.stream, threads=self.threads, limits=self.limits)

    def windows(self, path: Path) -> Iterator[tuple[float, float, Any]]:
        """(start, end, RawVideo) per window (one window spanning the file without ``window``);
        a window is cut early once its frames would pass the run's window budget."""
        from avseq.io.raw import RawVideo
        from avseq.io.windows import iter_sampled_arrays

        options = dict(window=self.params.window, max_bytes=self.max_bytes, **self._options())
        for w in iter_sampled_arrays(path, self.samplings, **options):
            picks = {c: w.picks[i] for c, i in self.picks.items()}
            yield w.start, w.end, RawVideo(w.frames, picks)


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


def make_decoder(plan: Any, busy_workers: int = 1):
    """The function a decode worker runs per file: Window messages, then FileDone.

    busy_workers: how many workers decode at once (their decoder threads share the cores).
    """
    video = next((plan.objects[s.id] for s in plan.sources if s.type == "decode_video"), None)
    audio = next((plan.objects[s.id] for s in plan.sources if s.type == "decode_audio"), None)
    if video is not None:
        video.plan_threads(busy_workers)

    def decode(path: Path) -> Iterator[Window | FileDone]:
        if video is None:
            wave = audio.decode(path)
            yield Window(-1, 0, 0.0, wave.duration, {audio.id: wave})
            yield FileDone(-1, 1, wave.duration, 0.0)
            return
        pts, end, n = [], 0.0, 0
        for n, (start, stop, decoded) in enumerate(video.windows(path), start=1):
            values = {video.id: decoded}
            if audio is not None:
                values[audio.id] = audio.decode(path, start, stop)
            pts.append(decoded.frames.pts)
            end = stop
            yield Window(-1, n - 1, start, stop, values)
        all_pts = np.concatenate(pts) if pts else np.zeros(0, dtype=np.float64)
        if len(all_pts) == 0:  # e.g. damaged codec parameters: packets there, but no frame decodes
            raise CorruptMediaError(path, "no video frame could be decoded")
        yield FileDone(-1, n, end if math.isfinite(end) else 0.0, 0.0, all_pts)

    return decode


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
