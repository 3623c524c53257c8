"""The ``avseq`` command: one group, a thin subcommand per job.

Subcommands live in their own modules and are imported only when invoked, so
``avseq probe`` never pays for importing the training code. An
:class:`~avseq.errors.AvseqError` becomes one clear line on stderr and exit
code 2 for usage/config errors (1 otherwise); ``--debug`` shows the traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys

import click

from avseq.errors import AvseqError, BundleError, ConfigError

# name -> "module:attribute" of a click.Command
COMMANDS = {
    "probe": "avseq.cli.probe:probe",
    "validate": "avseq.cli.run:validate",
    "run": "avseq.cli.run:run",
    "synth": "avseq.cli.synth:synth",
    "data": "avseq.cli.data:data",
    "train": "avseq.cli.train:train",
    "eval": "avseq.cli.evaluate:evaluate",
    "report": "avseq.cli.report:report",
    "demo": "avseq.cli.demo:demo",
    "bundles": "avseq.cli.bundles:bundles",
    "pipelines": "avseq.cli.shipped:pipelines",
    "configs": "avseq.cli.shipped:configs",
}


class LazyGroup(click.Group):
    """A click group that imports each subcommand's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n, t in COMMANDS.items() if importlib.util.find_spec(t.split(":")[0]))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None or importlib.util.find_spec(target.split(":")[0]) is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AvseqError as err:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {err}", err=True)
            sys.exit(2 if isinstance(err, (ConfigError, BundleError)) else 1)


@click.group(cls=LazyGroup)
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.version_option(package_name="avseq")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """avseq: sound from silent video and video captioning with CNN + LSTM models."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def entry() -> None:
    """The ``avseq`` console script: :func:`main`, then an exit without the interpreter's teardown
    once torch is loaded.

    When a command has finished and its output is flushed, the teardown only runs library
    destructors, which page in about 200 MB (a run's peak resident memory would be set there)
    and take a few tenths of a second. Commands run in-process (``main``, tests) are unaffected.
    """
    try:
        main()
        code: object = 0
    except SystemExit as done:
        code = done.code
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    if "torch" not in sys.modules:
        sys.exit(code)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0)
