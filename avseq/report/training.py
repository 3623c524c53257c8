"""The HTML report of a training run: loss and metric curves from the run's CSV log.

Loss-like columns share the first panel; a family of columns named ``<family>/<member>`` (the
training log's ``grad_norm/<layer>`` and ``gate_sat/<layer>.<gate>``, see
:mod:`avseq.train.diagnostics`) shares one panel, with the column named ``<family>`` itself when
there is one (the total ``grad_norm``); every other column gets its own panel.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from avseq.errors import ReportError
from avseq.io.atomic import atomic_path, write_text_atomic
from avseq.report.html import esc, fmt, grid_table, kv_table, page
from avseq.report.records import read_summary

LOG_NAMES = ("log.csv", "train_log.csv", "metrics.csv", "history.csv")
CONFIG_NAMES = ("config.yaml", "config.yml", "config.json")
CURVES_PNG = "report_curves.png"
NOT_CURVES = {"step", "epoch", "clipped"}  # the x axis, a counter, a 0/1 flag


@dataclass(frozen=True)
class TrainingLog:
    """A CSV log as columns: ``steps`` (N,) and ``series`` name -> (N,) values (NaN where blank)."""

    path: Path
    steps: list[float]
    series: dict[str, list[float]]


def find_log(run_dir: Path) -> Path:
    """The run's CSV log: one of LOG_NAMES, else the folder's only .csv file."""
    for name in LOG_NAMES:
        if (run_dir / name).is_file():
            return run_dir / name
    found = sorted(run_dir.glob("*.csv"))
    if len(found) != 1:
        what = "no .csv file" if not found else f"several .csv files ({', '.join(p.name for p in found)})"
        raise ReportError(f"{run_dir}: {what}; expected one of {', '.join(LOG_NAMES)}")
    return found[0]


def read_log(path: Path) -> TrainingLog:
    """Read a CSV log with columns ``step``, ``loss`` and any numeric metric columns."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = list(reader.fieldnames or [])
        missing = [c for c in ("step", "loss") if c not in columns]
        if missing:
            raise ReportError(f"{path}: missing column(s) {', '.join(missing)}; has: {', '.join(columns)}")
        rows = list(reader)
    table = {c: [_float(r.get(c)) for r in rows] for c in columns}
    series = {c: v for c, v in table.items() if c not in NOT_CURVES and any(not math.isnan(x) for x in v)}
    return TrainingLog(path, table["step"], series)


def write_training_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` with the run's loss and metric curves; return its path.

    The curves are drawn into ``run_dir/report_curves.png``; the header shows
    the run's ``summary.json`` when there is one. Raises ReportError when the
    folder has no readable CSV log.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: not a folder")
    log = read_log(find_log(run_dir))
    if not log.series:
        raise ReportError(f"{log.path}: the log has no numeric values yet")
    _plot(log, run_dir / CURVES_PNG)
    rows = [
        ("run folder", esc(run_dir.resolve())),
        ("log", esc(log.path.name)),
        ("rows", fmt(len(log.steps))),
    ]
    rows += [(k.replace("_", " "), fmt(v)) for k, v in read_summary(run_dir).items()]
    body = (
        f"<header><h1>avseq training report</h1>{kv_table(rows)}</header>"
        f"<section class='clip'><img class='plot' src='{CURVES_PNG}' alt='training curves'>"
        f"<h3>Values</h3>{_values_table(log)}{_config(run_dir)}</section>"
    )
    path = run_dir / "report.html"
    write_text_atomic(path, page(f"avseq training report: {run_dir.name}", body))
    return path


def _values_table(log: TrainingLog) -> str:
    rows = []
    for name, values in log.series.items():
        points = [(s, v) for s, v in zip(log.steps, values, strict=True) if not math.isnan(v)]
        last_step, last = points[-1]
        vals = [v for _, v in points]
        rows.append([esc(name), fmt(last), fmt(last_step), fmt(min(vals)), fmt(max(vals))])
    return grid_table(["column", "last", "at step", "min", "max"], rows)


def panels(columns: list[str]) -> list[list[str]]:
    """The columns of each panel, in order: the loss-like ones, then one per family or column."""
    families = {c.split("/", 1)[0] for c in columns if "/" in c}
    found: dict[str, list[str]] = {}
    for c in columns:
        key = "loss" if "loss" in c and "/" not in c else c.split("/", 1)[0]
        found.setdefault(key if key in families or key == "loss" else c, []).append(c)
    return list(found.values())


FAMILY_TITLES = {
    "grad_norm": "gradient norm per layer, before clipping",
    "gate_sat": "gate saturation (fraction < 0.05 or > 0.95)",
}


def _plot(log: TrainingLog, png: Path) -> None:
    """One panel per entry of :func:`panels`; a panel of many lines puts its legend beside it and
    a log scale on the values when they span more than two decades."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = panels(list(log.series))
    ncols = min(2, len(groups))
    nrows = math.ceil(len(groups) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(5.5 * ncols, 3 * nrows), squeeze=False, layout="constrained"
    )
    for ax, names in zip(axes.flat, groups, strict=False):
        values = []
        for i, name in enumerate(names):
            points = [(s, v) for s, v in zip(log.steps, log.series[name], strict=True) if not math.isnan(v)]
            style = ("-", "--", ":")[i // 10 % 3]  # the colour cycle repeats after 10 lines
            ax.plot(*zip(*points, strict=True), style, marker="." if len(points) < 30 else None, label=name)
            values += [v for _, v in points]
        family = names[-1].split("/", 1)[0] if "/" in names[-1] else None
        ax.set(xlabel="step", title=FAMILY_TITLES.get(family, family) if family else ", ".join(names))
        ax.grid(alpha=0.3)
        positive = [v for v in values if v > 0]
        if family and positive and len(positive) == len(values) and max(positive) > 100 * min(positive):
            ax.set_yscale("log")
        if len(names) > 6:
            ax.legend(fontsize=5, loc="upper left", bbox_to_anchor=(1.01, 1.0), ncols=1 + len(names) // 24)
        elif len(names) > 1:
            ax.legend(fontsize=7 if family else None)
    for ax in axes.flat[len(groups) :]:
        ax.set_visible(False)
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _config(run_dir: Path) -> str:
    path = next((run_dir / n for n in CONFIG_NAMES if (run_dir / n).is_file()), None)
    if path is None:
        return ""
    text = path.read_text(encoding="utf-8", errors="replace")
    return f"<details><summary>{esc(path.name)}</summary><pre>{esc(text)}</pre></details>"


def _float(value: str | None) -> float:
    try:
        return float(value) if value not in (None, "") else math.nan
    except ValueError:
        return math.nan
