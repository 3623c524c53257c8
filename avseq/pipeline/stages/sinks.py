"""Sink stages: write one file's outputs (every window's pieces) into its staging folder.

Each ``write(folder, inputs, info)`` gets, per input stage, the list of that
stage's pieces in window order, and returns ``{result key: file name}``: what the
sink's ``names(params)`` says, the one place its file names are made (the
registration's ``outputs`` is the same function).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from avseq.errors import ConfigError
from avseq.pipeline.stages.base import FileInfo, StageType, register
from avseq.pipeline.stages.contract import NeedContext

if TYPE_CHECKING:
    from avseq.types import Audio


def named_outputs(*files: str) -> dict[str, str]:
    """``{result key: file name}`` for ``files``: the key is the name with ``_`` for ``.``."""
    return {name.replace(".", "_"): name for name in files}


def concat_audio(pieces: list[Audio]) -> Audio:
    """The windows' audio joined in order: wave (C, N) at the first piece's rate."""
    import torch

    from avseq.types import Audio

    if not pieces:
        raise ValueError("no audio to write (the file decoded to zero windows)")
    return Audio(torch.cat([p.wave for p in pieces], dim=1), pieces[0].sample_rate)


def window_cues(texts: list[str], info: FileInfo) -> list[Any]:
    """One cue per window spanning it; a single window spans the whole clip. A window's
    :class:`~avseq.io.EventCaptions` (a caption stage's ``mode: events``) gives one cue per event
    instead, moved from the window's time to the clip's."""
    from avseq.io import Cue

    cues = []
    for text, (start, end) in zip(texts, info.windows, strict=True):
        if hasattr(text, "cues"):
            cues += [Cue(start + c.start, start + c.end, c.text) for c in text.cues]
            continue
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

    @staticmethod
    def names(params: WriteAudioParams) -> dict[str, str]:
        return named_outputs(f"sound.{params.format}")

    def __init__(self, spec: Any, ctx: Any) -> None:
        self.outputs = self.names(spec.params)
        (self.name,) = self.outputs.values()

    def write(self, folder: Path, inputs: list[list[Any]], info: FileInfo) -> dict[str, str]:
        from avseq.io import write_audio

        audio = concat_audio(inputs[0])
        write_audio(folder / self.name, audio.wave, audio.sample_rate)
        return dict(self.outputs)


class MuxParams(BaseModel):
    """audio: replace the input's audio or keep it as a second track; captions: add a
    subtitle track from a caption input (needs one); format: the container, ``auto`` (MP4
    when it can hold the input's video codec unchanged, else WebM, else Matroska) or one
    named (a file whose codec it cannot hold fails with the formats that can)."""

    model_config = ConfigDict(extra="forbid")
    audio: Literal["replace", "keep"] = "replace"
    captions: bool = False
    format: Literal["auto", "mp4", "mkv", "webm"] = "auto"


class Mux:
    """Writes ``with_sound.<format>``: the input's video stream copied, the new sound muxed in.

    Its result key is ``with_sound`` whatever the format; the value names the file written.
    """

    KEY, STEM = "with_sound", "with_sound"

    @staticmethod
    def names(params: MuxParams) -> dict[str, str]:
        ext = "{mp4,webm,mkv}" if params.format == "auto" else params.format
        return {Mux.KEY: f"{Mux.STEM}.{ext}"}

    def __init__(self, spec: Any, ctx: Any) -> None:
        self.params = spec.params
        self.kinds = [ctx.spec.stage(i).stage_type.produces for i in spec.input]

    def write(self, folder: Path, inputs: list[list[Any]], info: FileInfo) -> dict[str, str]:
        from avseq.io import mux_audio

        audio = concat_audio(inputs[self.kinds.index("wave")])
        cues = window_cues(inputs[self.kinds.index("text")], info) if self.params.captions else None
        p = self.params
        out = mux_audio(info.path, folder / self.STEM, audio, mode=p.audio, captions=cues, format=p.format)
        return {self.KEY: out.name}


def _mux_needs(stage: Any, wanted: list[Any], ctx: NeedContext) -> list[Any]:
    """Nothing from upstream; refuses, at load, a mux with no sound to write or whose
    ``captions`` disagrees with its inputs (at run time either would fail or do nothing)."""
    kinds = {ctx.spec.stage(name).stage_type.produces: name for name in stage.input}
    reads = ", ".join(f"{name!r} ({kind})" for kind, name in kinds.items())
    if "wave" not in kinds:
        raise ConfigError(
            f"{ctx.where(stage, 'input')}: mux stage {stage.id!r} needs a wave input (a vocoder) to "
            f"mux in, got {reads}; allowed: one wave input, plus one text input with captions: true"
        )
    if stage.params.captions and "text" not in kinds:
        raise ConfigError(
            f"{ctx.where(stage, 'params.captions')}: mux stage {stage.id!r} sets captions: true but "
            f"reads no text input (it reads {reads}); add a caption stage to its input or set "
            f"captions: false"
        )
    if "text" in kinds and not stage.params.captions:
        raise ConfigError(
            f"{ctx.where(stage, 'params.captions')}: mux stage {stage.id!r} reads text from "
            f"{kinds['text']!r} but captions is false, so it would be dropped; set captions: true "
            f"or remove {kinds['text']!r} from its input"
        )
    return []


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WriteCaptionsParams(BaseModel):
    """formats: any of vtt, srt, json (files caption.vtt / caption.srt / caption.json)."""

    model_config = ConfigDict(extra="forbid")
    formats: list[Literal["vtt", "srt", "json"]] = Field(
        default_factory=lambda: ["vtt", "srt", "json"], min_length=1
    )


class WriteCaptions:
    """Writes the caption files; a whole-clip cue spans the clip (one cue per window when windowed)."""

    @staticmethod
    def names(params: WriteCaptionsParams) -> dict[str, str]:
        return named_outputs(*(f"caption.{fmt}" for fmt in dict.fromkeys(params.formats)))

    def __init__(self, spec: Any, ctx: Any) -> None:
        self.outputs = self.names(spec.params)

    def write(self, folder: Path, inputs: list[list[Any]], info: FileInfo) -> dict[str, str]:
        from avseq.io import write_caption_json, write_srt, write_vtt

        texts = inputs[0]
        cues = window_cues(texts, info)
        for name in self.outputs.values():
            fmt = name.rsplit(".", 1)[1]
            if fmt == "vtt":
                write_vtt(folder / name, cues)
            elif fmt == "srt":
                write_srt(folder / name, cues)
            else:
                write_caption_json(folder / name, texts, cues, source=info.path.name, duration=info.duration)
        return dict(self.outputs)


class WriteFeatures:
    """Writes ``features.safetensors``: ``features`` (T, D) float32 and ``pts`` (T,) seconds."""

    @staticmethod
    def names(params: NoParams) -> dict[str, str]:
        return named_outputs("features.safetensors")

    def __init__(self, spec: Any, ctx: Any) -> None:
        self.outputs = self.names(spec.params)
        (self.name,) = self.outputs.values()

    def write(self, folder: Path, inputs: list[list[Any]], info: FileInfo) -> dict[str, str]:
        import numpy as np
        import torch
        from safetensors.torch import save_file

        from avseq.io.atomic import atomic_path

        feats = torch.cat([p.float() for p in inputs[0]], dim=0).contiguous()
        tensors = {"features": feats}
        if info.pts.shape[0] == feats.shape[0]:
            tensors["pts"] = torch.from_numpy(np.ascontiguousarray(info.pts, dtype=np.float64))
        with atomic_path(folder / self.name) as tmp:
            save_file(
                tensors, str(tmp), metadata={"source": info.path.name, "duration": f"{info.duration:.6f}"}
            )
        return dict(self.outputs)


register(
    StageType(
        "write_audio",
        "sink",
        WriteAudioParams,
        WriteAudio,
        ("wave", "audio"),
        None,
        outputs=WriteAudio.names,
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
        outputs=Mux.names,
        needs=_mux_needs,
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
        outputs=WriteCaptions.names,
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
        outputs=WriteFeatures.names,
    )
)
