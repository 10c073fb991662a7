"""Command line for pairofcleats: a thin layer over `pairofcleats.api`."""

from __future__ import annotations

import typer

from pairofcleats import __version__

app = typer.Typer(
    name="pairofcleats",
    help="Code and prose search index for coding agents.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pairofcleats {__version__}")
        raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Code and prose search index for coding agents."""


def main() -> None:
    app()
