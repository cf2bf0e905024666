"""Transient retries are counted per operation and error, for the dashboards and alerts."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from snapfix_shared.consuming import retry_transient

pytestmark = pytest.mark.unit


async def test_each_retry_of_a_transient_failure_is_counted() -> None:
    attempts = 0

    async def store_once_the_database_is_back() -> int:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionError("not yet")
        return attempts

    labels = {"operation": store_once_the_database_is_back.__qualname__, "error": "ConnectionError"}
    before = REGISTRY.get_sample_value("snapfix_transient_retries_total", labels) or 0.0
    assert await retry_transient((ConnectionError,), store_once_the_database_is_back) == 3
    assert REGISTRY.get_sample_value("snapfix_transient_retries_total", labels) == before + 2
