"""The circuit breakers: only "dependency down" errors open a circuit; an open one refuses at once."""

from __future__ import annotations

import asyncio

import pytest
from pymongo.errors import DuplicateKeyError, ServerSelectionTimeoutError

from snapfix_shared.breakers import MONGO_DOWN, Breakers, CircuitOpen

pytestmark = pytest.mark.unit


async def _fail(breakers: Breakers, exc: BaseException) -> None:
    with pytest.raises(type(exc)):
        async with breakers.guard("mongo", MONGO_DOWN):
            raise exc


async def test_the_circuit_opens_after_threshold_outages_and_then_refuses_without_calling() -> None:
    breakers = Breakers("test", threshold=3, ttl_s=30)
    for _ in range(3):
        await _fail(breakers, ServerSelectionTimeoutError("no server"))
    assert breakers.is_open("mongo")
    called = False
    with pytest.raises(CircuitOpen) as refused:
        async with breakers.guard("mongo", MONGO_DOWN):
            called = True
    assert not called
    assert refused.value.status == 503
    assert 0 < int(refused.value.headers["Retry-After"]) <= 30


async def test_errors_that_do_not_mean_down_never_open_it() -> None:
    breakers = Breakers("test", threshold=2, ttl_s=30)
    for _ in range(5):
        await _fail(breakers, DuplicateKeyError("dup"))
        await _fail(breakers, ValueError("a bug, not an outage"))
    assert not breakers.is_open("mongo")
    async with breakers.guard("mongo", MONGO_DOWN):
        pass


async def test_a_success_resets_the_count_and_circuits_are_per_dependency() -> None:
    breakers = Breakers("test", threshold=2, ttl_s=30)
    await _fail(breakers, ServerSelectionTimeoutError("no server"))
    async with breakers.guard("mongo", MONGO_DOWN):
        pass
    await _fail(breakers, ServerSelectionTimeoutError("no server"))
    assert not breakers.is_open("mongo")
    await _fail(breakers, ServerSelectionTimeoutError("no server"))
    assert breakers.is_open("mongo")
    assert not breakers.is_open("redis")


async def test_after_its_ttl_one_trial_call_goes_through_and_a_success_closes_it() -> None:
    breakers = Breakers("test", threshold=1, ttl_s=0.2)
    await _fail(breakers, ServerSelectionTimeoutError("no server"))
    assert breakers.is_open("mongo")
    await asyncio.sleep(0.3)
    called = False
    async with breakers.guard("mongo", MONGO_DOWN):
        called = True
    assert called
    assert not breakers.is_open("mongo")
