"""What the command groups share: the console, clear errors, confirmation, progress, and running a coroutine.

A command fails by raising ``CliError`` (or calling ``fail``): one red line on stderr, exit
status 1, and nothing changed (each command checks its arguments before it writes). A store
or broker that does not answer in time is reported the same way, by name.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

T = TypeVar("T")
P = ParamSpec("P")

# Rich finds sys.stdout / sys.stderr when it writes (so typer's test runner captures them).
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class CliError(Exception):
    """A wrong argument or a refused operation: the message says what and what to do instead."""


def fail(message: str) -> NoReturn:
    raise CliError(message)


def guarded(command: Callable[P, T]) -> Callable[P, T]:
    """A command whose CliError is one red line on stderr and exit status 1 (not a traceback)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return command(*args, **kwargs)
        except CliError as exc:
            err_console.print(f"[bold red]Error:[/] {exc}", soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; a store or broker that fails or does not answer in time becomes a CliError."""
    # Imported here: `snapfix --help` stays quick.
    from aiokafka.errors import KafkaError
    from pymongo.errors import PyMongoError
    from redis.exceptions import RedisError

    try:
        return asyncio.run(coroutine)
    except TimeoutError as exc:
        raise CliError(f"a store or the broker did not answer in time ({exc or 'timeout'}).") from exc
    except KafkaError as exc:
        raise CliError(f"Kafka: {type(exc).__name__}: {exc}") from exc
    except PyMongoError as exc:
        raise CliError(f"MongoDB: {type(exc).__name__}: {exc}") from exc
    except RedisError as exc:
        raise CliError(f"Redis: {type(exc).__name__}: {exc}") from exc


def confirm(question: str, *, yes: bool) -> None:
    """Go on only if ``--yes`` was given or the person at the terminal says so; without a terminal, refuse."""
    if yes:
        return
    if not sys.stdin.isatty():
        fail("no terminal to confirm on: run it in a terminal, or pass --yes to confirm in advance.")
    if not typer.confirm(question, default=False):
        err_console.print("Nothing done.")
        raise typer.Exit(1)


def progress() -> Progress:
    """A progress bar for long operations (on stderr, so stdout stays the result)."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
