"""``avseq pipelines`` and ``avseq configs``: the pipeline files and training configs shipped with
avseq, listed (name and what it is for) or printed (``show NAME > my.yaml``) to start one's own.

Every command that takes a pipeline file or a config also takes one of these names
(:mod:`avseq.shipped`), e.g. ``avseq run caption_and_sound -i clips/ -o out``.
"""

from __future__ import annotations

import click


def _group(kind: str, uses: str) -> click.Group:
    @click.group(name=f"{kind}s", invoke_without_command=True)
    @click.pass_context
    def group(ctx: click.Context) -> None:
        if ctx.invoked_subcommand is None:
            click.echo(listing(kind))

    group.help = (
        f"List the {kind}s shipped with avseq (name and what each is for). Each name works where a "
        f"{kind} file does, e.g. `{uses}`; `avseq {kind}s show NAME > my.yaml` starts your own."
    )

    @group.command()
    @click.argument("name")
    def show(name: str) -> None:
        """Print the shipped file NAME (redirect it into a file to start your own)."""
        from avseq.shipped import resolve_shipped

        click.echo(resolve_shipped(kind, name).read_text(encoding="utf-8"), nl=False)

    return group


def listing(kind: str) -> str:
    """One line per shipped file of ``kind``: its name, padded, and the first line of its comment."""
    from avseq.shipped import list_shipped

    files = list_shipped(kind)
    width = max((len(f.name) for f in files), default=0)
    return "\n".join(f"{f.name:<{width}}  {f.summary}".rstrip() for f in files)


pipelines = _group("pipeline", "avseq run caption_and_sound -i clips/ -o out")
configs = _group("config", "avseq train sound_synth")
