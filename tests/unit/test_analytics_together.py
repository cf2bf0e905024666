"""The batch's side-by-side writes: a failure ends its siblings and comes out as itself."""

from __future__ import annotations

import asyncio

import pytest
from pymongo.errors import AutoReconnect, ConnectionFailure

from snapfix_analytics.repository import together

pytestmark = pytest.mark.unit


async def test_results_come_back_in_the_order_of_the_calls() -> None:
    async def after(delay: float, value: int) -> int:
        await asyncio.sleep(delay)
        return value

    assert await together([after(0.02, 1), after(0, 2), after(0.01, 3)]) == [1, 2, 3]


async def test_a_failure_is_raised_as_itself_once_its_siblings_have_ended() -> None:
    ended: list[str] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            ended.append("slow")

    async def fails() -> None:
        await asyncio.sleep(0)
        raise AutoReconnect("connection closed")

    with pytest.raises(ConnectionFailure):  # a transient error a retry recognises by its type
        await together([slow(), fails()], transient=(ConnectionFailure,))
    assert ended == ["slow"]


async def test_a_lasting_failure_is_not_hidden_by_a_transient_one() -> None:
    async def transient() -> None:
        raise AutoReconnect("connection closed")

    async def lasting() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        await together([transient(), lasting()], transient=(ConnectionFailure,))
