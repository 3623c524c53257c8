"""Log-mel spectrogram pictures for the report (matplotlib, Agg backend).

The generated sound and the input's original sound are drawn with the same
recipe, time axis in seconds and colour scale, so the two pictures compare
directly. Long clips are drawn for their first :data:`MAX_PLOT_SECONDS` only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from avseq.errors import NoStreamError
from avseq.io.atomic import atomic_path
from avseq.io.audio import decode_audio

MAX_PLOT_SECONDS = 120.0
DYNAMIC_RANGE_DB = 80.0


@dataclass(frozen=True)
class LogMel:
    """A log-mel picture's data: (n_mels, T) decibels at ``frame_rate`` frames per second."""

    db: np.ndarray
    frame_rate: float


def load_mono(path: str | Path, max_seconds: float = MAX_PLOT_SECONDS) -> tuple[np.ndarray, int] | None:
    """The first audio stream of ``path`` as ((N,) float32 mono, sample rate), or None without one.

    Decodes at most the first ``max_seconds``. Raises MediaError for unreadable files.
    """
    try:
        audio = decode_audio(path, channels=1, end=max_seconds, on_truncated="warn")
    except NoStreamError:
        return None
    return audio.wave[0].numpy(), audio.sample_rate


def log_mel(wave: np.ndarray, sample_rate: int) -> LogMel:
    """(N,) mono wave -> log-mel in dB, (n_mels, T).

    Uses avseq's "default" recipe (16 kHz, 64 mels 0-8 kHz, 100 frames/s) from
    :mod:`avseq.transforms.mel` after resampling to 16 kHz, so pictures of any
    two sounds share axes.
    """
    import torch
    import torchaudio

    from avseq.transforms.mel import get_recipe, mel_spectrogram, to_log

    if wave.size == 0:
        wave = np.zeros(sample_rate // 10, np.float32)

    recipe = replace(get_recipe("default"), name="report", log="db20")
    tensor = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
    if sample_rate != recipe.sample_rate:
        tensor = torchaudio.functional.resample(tensor, sample_rate, recipe.sample_rate)
    db = to_log(mel_spectrogram(tensor, recipe), recipe)[0]
    return LogMel(db.numpy(), recipe.frame_rate)


def save_mel_pngs(items: list[tuple[LogMel, str, Path]]) -> None:
    """Draw each (log-mel, title, png path) on one shared colour scale; each PNG is written atomically.

    Uses a plain Agg Figure with a fixed layout (no pyplot state, no layout solver: cheap per clip).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    vmax = max(float(m.db.max()) for m, _, _ in items)
    vmin = vmax - DYNAMIC_RANGE_DB
    for mel, title, path in items:
        fig = Figure(figsize=(5.2, 2.4), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.11, 0.19, 0.74, 0.7))
        seconds = mel.db.shape[1] / mel.frame_rate
        image = ax.imshow(
            mel.db, origin="lower", aspect="auto", cmap="magma", vmin=vmin, vmax=vmax,
            extent=(0.0, seconds, 0.0, mel.db.shape[0]), interpolation="nearest",
        )  # fmt: skip
        ax.set(title=title, xlabel="time (s)", ylabel="mel bin")
        fig.colorbar(image, cax=fig.add_axes((0.87, 0.19, 0.02, 0.7)), label="dB")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")


def is_fresh(outputs: list[Path], sources: list[Path]) -> bool:
    """True when every output exists and is newer than every source (so it needs no redraw)."""
    if not all(p.is_file() for p in outputs):
        return False
    newest_source = max((s.stat().st_mtime for s in sources if s.is_file()), default=0.0)
    return min(p.stat().st_mtime for p in outputs) >= newest_source
