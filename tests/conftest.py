"""Fixtures shared by every tier."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.stack import Stack, connect_stack, container_stack, stack_choice

log = logging.getLogger("tests.stack")


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The real Kafka, MongoDB-wire server and Redis; fails (never skips) when they are down.

    The native stack (``make test`` starts it), or containers where a Docker engine answers and
    no native stack is named (tests/stack.py ``choose_stack``; ``SNAPFIX_TEST_STACK`` decides by hand).
    """
    choice = stack_choice()
    said = f"test stack: {choice.kind} ({choice.reason})"
    log.info(said)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(said)
    if choice.kind == "native":
        yield connect_stack()
        return
    with container_stack() as containers:
        yield containers
