"""Sink stages: write one file's outputs (every window's pieces) into its staging folder.

Each ``write(folder, inputs, info)`` gets, per input stage, the list of that
stage's pieces in window order, and returns ``{result key: file name}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from avseq.pipeline.stages.base import FileInfo, StageType, register
from avseq.types import Audio


def _key(name: str) -> str:
    return name.replace(".", "_")


def concat_audio(pieces: list[Audio]) -> Audio:
    """The windows' audio joined in order: wave (C, N) at the first piece's rate."""
    if not pieces:
        raise ValueError("no audio to write (the file decoded to zero windows)")
    return Audio(torch.cat([p.wave for p in pieces], dim=1), pieces[0].sample_rate)


def window_cues(texts: list[str], info: FileInfo) -> list[Any]:
    """One cue per window spanning it; a single window spans the whole clip."""
    from avseq.io import Cue

    cues = []
    for text, (start, end) in zip(texts, info.windows, strict=True):
        if len(texts) == 1:
            start, end = 0.0, max(end, info.duration)
        cues.append(Cue(start, max(end, start + 1e-3), text))
    return cues


class WriteAudioParams(BaseModel):
    """format: wav (16-bit PCM) or flac."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["wav", "flac"] = "wav"


class WriteAudio:
    """Writes ``sound.wav`` (or ``.flac``) from synthesized (or decoded) audio."""

    def __init__(self, spec: Any, ctx: Any) -> None:
        self.name = f"sound.{spec.params.format}"

    def write(self, folder: Path, inputs: list[list[Any]], info: FileInfo) -> dict[str, str]:
        from avseq.io import write_audio

        audio = concat_audio(inputs[0])
        write_audio(folder / self.name, audio.wave, audio.sample_rate)
        return {_key(self.name): self.name}


class MuxParams(BaseModel):
    """audio: replace the input's audio or keep it as a second track; captions: add a
    subtitle track from a caption input (needs one)."""

    model_config = ConfigDict(extra="forbid")
    audio: Literal["replace", "keep"] = "replace"
    captions: bool = False


class Mux:
    """Writes ``with_sound.mp4``: the input's video stream copied, the new sound muxed in."""

    name = "with_sound.mp4"

    def __init__(self, spec: Any, ctx: Any) -> None:
        self.params = spec.params
        self.kinds = [ctx.spec.stage(i).stage_type.produces for i in spec.input]

    def write(self, folder: Path, inputs: list[list[Any]], info: FileInfo) -> dict[str, str]:
        from avseq.io import mux_audio

        audio = concat_audio(inputs[self.kinds.index("wave")])
        cues = None
        if self.params.captions and "text" in self.kinds:
            cues = window_cues(inputs[self.kinds.index("text")], info)
        mux_audio(info.path, folder / self.name, audio, mode=self.params.audio, captions=cues)
        return {_key(self.name): self.name}


class WriteCaptionsParams(BaseModel):
    """formats: any of vtt, srt, json (files caption.vtt / caption.srt / caption.json)."""

    model_config = ConfigDict(extra="forbid")
    formats: list[Literal["vtt", "srt", "json"]] = Field(
        default_factory=lambda: ["vtt", "srt", "json"], min_length=1
    )


class WriteCaptions:
    """Writes the caption files; a whole-clip cue spans the clip (one cue per window when windowed)."""

    def __init__(self, spec: Any, ctx: Any) -> None:
        self.formats = list(dict.fromkeys(spec.params.formats))

    def write(self, folder: Path, inputs: list[list[Any]], info: FileInfo) -> dict[str, str]:
        from avseq.io import write_caption_json, write_srt, write_vtt

        texts = inputs[0]
        cues = window_cues(texts, info)
        out = {}
        for fmt in self.formats:
            name = f"caption.{fmt}"
            if fmt == "vtt":
                write_vtt(folder / name, cues)
            elif fmt == "srt":
                write_srt(folder / name, cues)
            else:
                write_caption_json(folder / name, texts, cues, source=info.path.name, duration=info.duration)
            out[_key(name)] = name
        return out


class WriteFeatures:
    """Writes ``features.safetensors``: ``features`` (T, D) float32 and ``pts`` (T,) seconds."""

    name = "features.safetensors"

    def __init__(self, spec: Any, ctx: Any) -> None:
        pass

    def write(self, folder: Path, inputs: list[list[Any]], info: FileInfo) -> dict[str, str]:
        from safetensors.torch import save_file

        from avseq.io.atomic import atomic_path

        feats = torch.cat([p.float() for p in inputs[0]], dim=0).contiguous()
        tensors = {"features": feats}
        if info.pts.shape[0] == feats.shape[0]:
            tensors["pts"] = info.pts.to(torch.float64).contiguous()
        with atomic_path(folder / self.name) as tmp:
            save_file(
                tensors, str(tmp), metadata={"source": info.path.name, "duration": f"{info.duration:.6f}"}
            )
        return {_key(self.name): self.name}


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


register(
    StageType(
        "write_audio",
        "sink",
        WriteAudioParams,
        WriteAudio,
        ("wave", "audio"),
        None,
        outputs=lambda p: {_key(f"sound.{p.format}"): f"sound.{p.format}"},
        description="sound.wav / sound.flac",
    )
)
register(
    StageType(
        "mux",
        "sink",
        MuxParams,
        Mux,
        ("wave", "text"),
        None,
        (1, 2),
        outputs=lambda p: {_key(Mux.name): Mux.name},
        description="with_sound.mp4 (video stream copied)",
    )
)
register(
    StageType(
        "write_captions",
        "sink",
        WriteCaptionsParams,
        WriteCaptions,
        ("text",),
        None,
        outputs=lambda p: {_key(f"caption.{f}"): f"caption.{f}" for f in dict.fromkeys(p.formats)},
        description="caption.vtt / caption.srt / caption.json",
    )
)
register(
    StageType(
        "write_features",
        "sink",
        NoParams,
        WriteFeatures,
        ("features",),
        None,
        outputs=lambda p: {_key(WriteFeatures.name): WriteFeatures.name},
        description="features.safetensors",
    )
)
