"""Training logs: one CSV row per logged step, TensorBoard when installed, and a PNG of the curves.

``log.csv`` has a fixed header (``step``, ``epoch``, ``loss``, ``lr``, ``grad_norm``, ``clipped``,
``clip_frac``, ``rate``, the validation columns and the diagnostics' ``grad_norm/<layer>`` and
``gate_sat/<layer>.<gate>``, see :mod:`avseq.train.diagnostics`); blank cells mean "not measured
at this step".
A resumed run first drops the rows after the step it resumes from, so the file
reads as one uninterrupted run.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path

from avseq.io.atomic import atomic_path, write_text_atomic

LOG_NAME = "log.csv"
CURVES_NAME = "curves.png"
TRAIN_COLUMNS = ("step", "epoch", "loss", "lr", "grad_norm", "clipped", "clip_frac", "rate")


class CsvLog:
    """Appends rows to ``run_dir/log.csv``; columns are fixed when the log is opened."""

    def __init__(self, run_dir: str | Path, columns: Sequence[str], resume_step: int | None = None) -> None:
        """columns: those after :data:`TRAIN_COLUMNS` (validation metrics, diagnostics)."""
        self.path = Path(run_dir) / LOG_NAME
        self.columns = list(TRAIN_COLUMNS) + [c for c in columns if c not in TRAIN_COLUMNS]
        rows = read_rows(self.path) if resume_step is not None and self.path.is_file() else []
        rows = [r for r in rows if float(r["step"]) <= resume_step] if resume_step is not None else []
        buf = io.StringIO()
        writer = csv.DictWriter(buf, self.columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomic(self.path, buf.getvalue())
        self._tb = _tensorboard(Path(run_dir) / "tensorboard")

    def write(self, row: dict[str, float | int | str]) -> None:
        """Append one row (missing columns stay blank) and mirror numbers to TensorBoard."""
        with self.path.open("a", newline="", encoding="utf-8") as f:
            csv.DictWriter(f, self.columns, extrasaction="ignore").writerow(
                {k: _cell(v) for k, v in row.items()}
            )
        if self._tb is not None:
            for key, value in row.items():
                if key != "step" and isinstance(value, int | float) and math.isfinite(value):
                    self._tb.add_scalar(key, value, int(row["step"]))

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def _cell(value: float | int | str) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _tensorboard(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(folder))


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a CSV log as dicts of strings."""
    with Path(path).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _series(rows: list[dict[str, str]], column: str) -> tuple[list[float], list[float]]:
    pts = [(float(r["step"]), float(r[column])) for r in rows if r.get(column) not in (None, "")]
    return [p[0] for p in pts], [p[1] for p in pts]


def plot_curves(run_dir: str | Path, metric_columns: Sequence[str]) -> Path:
    """Draw the training loss (and val loss) and each metric column into ``run_dir/curves.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    rows = read_rows(run_dir / LOG_NAME)
    panels = [("loss", ["loss", "val_loss"])] + [(m, [m]) for m in metric_columns if m != "val_loss"]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(4.5 * len(panels), 3.2), squeeze=False, layout="constrained"
    )
    for ax, (title, columns) in zip(axes[0], panels, strict=True):
        for column in columns:
            steps, values = _series(rows, column)
            if steps:
                ax.plot(steps, values, marker="." if len(steps) < 30 else None, label=column)
        ax.set(xlabel="step", title=title)
        ax.grid(alpha=0.3)
        if len(columns) > 1:
            ax.legend()
    out = run_dir / CURVES_NAME
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return out
