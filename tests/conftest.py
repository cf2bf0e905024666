"""Fixtures shared by every tier."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.stack import Stack, connect_stack, container_stack, docker_engine_answers, stack_choice

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
    # Shown on the terminal even while output is captured (as a session fixture's is).
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if capture is not None and reporter is not None:
        with capture.global_and_fixture_disabled():
            reporter.ensure_newline()
            reporter.write_line(said)
    if choice.kind == "native":
        yield connect_stack()
        return
    if not docker_engine_answers():  # chosen by hand
        pytest.fail(f"{said}, but no Docker engine answers (DOCKER_HOST or /var/run/docker.sock)", pytrace=False)
    with container_stack() as containers:
        yield containers
