"""The root of ``snapfix``: one sub-command group per area, each in its own module."""

from __future__ import annotations

from importlib import metadata

import typer

from snapfix_cli import consumers, dlq, export, media, readmodels, users

app = typer.Typer(
    name="snapfix",
    help="Operate a SnapFix installation. Reads the same SNAPFIX_* settings as the services "
    "(for the local stack: set -a; source .stack/run/env; set +a).",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


@app.callback()
def root() -> None:
    """Operate a SnapFix installation."""


# Sub-command groups register here (one module each): users, dlq, consumers, media, readmodels, export.
app.add_typer(users.app, name="users")
app.add_typer(dlq.app, name="dlq")
app.add_typer(consumers.app, name="consumers")
app.add_typer(media.app, name="media")
app.add_typer(readmodels.app, name="readmodels")
app.add_typer(export.app, name="export")


@app.command()
def version() -> None:
    """Print the installed SnapFix version.

    Example: snapfix version
    """
    typer.echo(metadata.version("snapfix-cli"))


def main() -> None:
    app()
