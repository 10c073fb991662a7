"""Command line for spiderweb: a thin layer over `spiderweb.api`."""

from __future__ import annotations

import typer

from spiderweb import __version__

app = typer.Typer(
    name="spiderweb",
    help="WebSocket gateway for agents: sessions, memory, identity, planner, workers.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"spiderweb {__version__}")
        raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """WebSocket gateway for agents: sessions, memory, identity, planner, workers."""


def main() -> None:
    app()
