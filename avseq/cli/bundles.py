"""``avseq bundles``: the bundles shipped with avseq (or those in a folder) with their model cards.

Reads each bundle.json alone (:func:`avseq.bundles.list_cards`), so it never loads weights or
imports torch. Exit code 1 when a bundle in the folder could not be read (it is listed with why).
"""

from __future__ import annotations

import json
import sys
import textwrap

import click

WIDTH = 100


@click.command()
@click.argument("folder", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list (every card in full) instead.")
def bundles(folder: str | None, as_json: bool) -> None:
    """List the shipped bundles, or the bundles in FOLDER (at any depth), with their model cards:
    what each does, what it was trained on, its key figures, intended inputs and known limits."""
    from avseq.bundles.locate import list_cards

    cards = list_cards(folder)
    if as_json:
        click.echo(json.dumps([c.to_dict() for c in cards], indent=2, ensure_ascii=False))
    else:
        click.echo("\n\n".join(describe(c) for c in cards))
    sys.exit(1 if any(c.problem for c in cards) else 0)


def describe(entry) -> str:
    """A bundle's card as indented, wrapped text."""
    if entry.problem:
        return f"{entry.path}\n  error: {entry.problem}"
    where = "shipped" if entry.shipped else str(entry.path)
    lines = [f"{entry.name}  ({entry.kind}, {entry.version}, {where})"]
    card = entry.card
    if card is None:
        lines.append("  no model card (saved without one)")
    else:
        lines += _wrapped("", card.summary)
        lines += _wrapped("trained on: ", card.trained_on)
        if card.intended_inputs:
            lines += _wrapped("intended inputs: ", card.intended_inputs)
        if card.figures:
            figures = "; ".join(f"{k} {v:.4g}" for k, v in card.figures.items())
            lines += _wrapped("figures: ", figures)
        if card.evaluation:
            lines += _wrapped("evaluated: ", card.evaluation)
        if card.limits:
            lines.append("  limits:")
            for limit in card.limits:
                lines += _wrapped("- ", limit, indent=4)
    lines += _wrapped("domain check: ", _domain(entry.feature_stats))
    return "\n".join(lines)


def _domain(stats) -> str:
    if stats is None:
        return "none (no feature statistics: `avseq run` cannot tell if inputs are like its training clips)"
    held = stats.calibration.get("held_out_scores", {}).get("max")
    held_text = f", held-out clips up to {held:.3g}" if isinstance(held, int | float) else ""
    return (
        f"out of domain when an input's score passes {stats.threshold:.3g} (results.jsonl gives the score "
        f"over it as domain_scores); training clips score up to {stats.train_scores['max']:.3g}{held_text} "
        f"(statistics of {stats.clips} clips, {stats.frames} frames)"
    )


def _wrapped(label: str, text: str, indent: int = 2) -> list[str]:
    pad = " " * indent
    return textwrap.wrap(
        f"{label}{text}", WIDTH, initial_indent=pad, subsequent_indent=pad + " " * min(len(label), 2)
    )
