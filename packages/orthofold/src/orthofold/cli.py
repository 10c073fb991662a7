"""Command line for orthofold: a thin layer over `orthofold.api`."""

from __future__ import annotations

import typer

from orthofold import __version__

HELP = """Mine orthos (n-dimensional word boxes) from text.

Not built yet: this release ships only the CLI shell. The miner, the
generational store, leader/follower mode and the TUI arrive with the
orthofold issue; the spec is docs/orthofold/.
"""

app = typer.Typer(
    name="orthofold",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"orthofold {__version__}")
        raise typer.Exit(0)


@app.callback(invoke_without_command=True)
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Print help when no command is given."""


def main() -> None:
    app()
