"""Command line for meld: a thin layer over `meld.api`."""

from __future__ import annotations

import typer

from meld import __version__

HELP = """Filesystem Merkle tree (BLAKE3) and LLM-generated context frames.

Not built yet: this release ships only the CLI shell. The tree, frames
and the generate -> orchestrator -> queue -> provider pipeline arrive
with the meld issue; see docs/meld/.
"""

app = typer.Typer(
    name="meld",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"meld {__version__}")
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
