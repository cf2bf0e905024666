"""Fixtures shared by every tier."""

from __future__ import annotations

import pytest

from tests.stack import Stack, connect_stack


@pytest.fixture(scope="session")
def stack() -> Stack:
    """The real Kafka, MongoDB-wire server and Redis; fails (never skips) when they are down."""
    return connect_stack()
