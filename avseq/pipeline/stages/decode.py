"""Source stages, run in the decode workers: ``decode_video`` and ``decode_audio``."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, model_validator

from avseq.errors import CorruptMediaError
from avseq.pipeline.stages.base import StageType, register
from avseq.pipeline.workers import FileDone, Window

Size = PositiveInt | tuple[PositiveInt, PositiveInt]


class DecodeVideoParams(BaseModel):
    """fps: sample at this rate; or num_frames: N uniform frames (per window when windowed).
    size: int (shorter side) or [H, W] applied while decoding. window: seconds per window for
    long files (None = whole file as one clip). mode: fast (decode only what is needed) or exact."""

    model_config = ConfigDict(extra="forbid")
    fps: PositiveFloat | None = None
    num_frames: PositiveInt | None = None
    size: Size | None = None
    window: PositiveFloat | None = None
    mode: Literal["fast", "exact"] = "fast"
    stream: int = Field(0, ge=0)
    threads: int = Field(1, ge=0, description="decoder threads per worker (0 = automatic)")

    @model_validator(mode="after")
    def _one_sampling(self) -> DecodeVideoParams:
        if self.fps is not None and self.num_frames is not None:
            raise ValueError(
                f"give fps or num_frames, not both (got fps={self.fps}, num_frames={self.num_frames})"
            )
        return self


class DecodeAudioParams(BaseModel):
    """sample_rate: resample to this rate (None = the file's); mono: mix channels down."""

    model_config = ConfigDict(extra="forbid")
    sample_rate: PositiveInt | None = None
    mono: bool = True
    stream: int = Field(0, ge=0)


class DecodeVideo:
    """Decodes one file into windows of uint8 Frames (T, 3, H, W) with pts in seconds."""

    def __init__(self, spec: Any, ctx: Any) -> None:
        self.id, self.params, self.limits = spec.id, spec.params, ctx.limits()

    def _options(self) -> dict[str, Any]:
        p = self.params
        size = tuple(p.size) if isinstance(p.size, (list, tuple)) else p.size
        return dict(
            fps=p.fps,
            num_frames=p.num_frames,
            size=size,
            mode=p.mode,
            stream=p.stream,
            threads=p.threads,
            limits=self.limits,
        )

    def windows(self, path: Path) -> Iterator[tuple[float, float, Any]]:
        """(start, end, Frames) per window; one window spanning the file without ``window``."""
        from avseq.io import iter_video, probe

        info = probe(path)
        duration = float(info.duration or 0.0)
        w = self.params.window
        if w is None:
            from avseq.io import decode_video

            frames = decode_video(path, **self._options())
            yield 0.0, max(duration, _last_pts(frames)), frames
            return
        for frames in iter_video(path, window=w, **self._options()):
            start = math.floor(float(frames.pts[0]) / w + 1e-9) * w if len(frames) else 0.0
            yield start, max(min(start + w, max(duration, _last_pts(frames))), start + 1e-3), frames


def _last_pts(frames: Any) -> float:
    return float(frames.pts[-1]) if len(frames) else 0.0


class DecodeAudio:
    """Decodes the audio of one window into Audio (C, N) at the requested rate."""

    def __init__(self, spec: Any, ctx: Any) -> None:
        self.id, self.params, self.limits = spec.id, spec.params, ctx.limits()

    def decode(self, path: Path, start: float = 0.0, end: float | None = None) -> Any:
        from avseq.io import decode_audio

        p = self.params
        return decode_audio(
            path,
            sample_rate=p.sample_rate,
            channels=1 if p.mono else None,
            stream=p.stream,
            start=start,
            end=end,
            limits=self.limits,
        )


def make_decoder(plan: Any):
    """The function a decode worker runs per file: Window messages, then FileDone."""
    video = next((plan.objects[s.id] for s in plan.sources if s.type == "decode_video"), None)
    audio = next((plan.objects[s.id] for s in plan.sources if s.type == "decode_audio"), None)

    def decode(path: Path) -> Iterator[Window | FileDone]:
        if video is None:
            wave = audio.decode(path)
            yield Window(-1, 0, 0.0, wave.duration, {audio.id: wave})
            yield FileDone(-1, 1, wave.duration, 0.0)
            return
        pts, end, n = [], 0.0, 0
        for n, (start, stop, frames) in enumerate(video.windows(path), start=1):
            values = {video.id: frames}
            if audio is not None:
                values[audio.id] = audio.decode(path, start, stop)
            pts.append(frames.pts)
            end = stop
            yield Window(-1, n - 1, start, stop, values)
        all_pts = torch.cat(pts) if pts else torch.zeros(0, dtype=torch.float64)
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
        description="decode video frames by timestamp (fps or num_frames), optionally in windows",
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
        description="decode the audio track of the same window",
    )
)
