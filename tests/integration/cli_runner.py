"""The ``snapfix`` command line run in-process against the real stack (in a thread: it runs its own event loop)."""

from __future__ import annotations

import asyncio

from click.testing import Result
from typer.testing import CliRunner

from snapfix_cli.app import app
from tests.stack import Stack

_runner = CliRunner()


async def snapfix(stack: Stack, *args: str, stdin: str | None = None) -> Result:
    """``snapfix <args>`` with the stack's settings, as an operator runs it (no terminal: stdin is a pipe)."""
    env = {
        "SNAPFIX_KAFKA_BOOTSTRAP_SERVERS": stack.kafka,
        "SNAPFIX_MONGO_URL": stack.mongo_url,
        "SNAPFIX_REDIS_URL": stack.redis_url,
        "COLUMNS": "250",  # Rich tables on one line per row
    }
    return await asyncio.to_thread(_runner.invoke, app, list(args), input=stdin, env=env)


def lines(result: Result) -> list[str]:
    return result.output.splitlines()
