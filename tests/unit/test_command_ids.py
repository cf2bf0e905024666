"""Ids of what a command creates: derived from the Idempotency-Key, so a late retry cannot duplicate."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Response

from snapfix_gateway.commands import Submitter
from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.identity.sessions import Principal

pytestmark = pytest.mark.unit


def make_submitter(*, user: str = "u1", key: str | None = "k1", secret: str = "s" * 40) -> Submitter:
    settings = GatewaySettings(jwt_secret=secret)
    principal = Principal(user_id=user, role="citizen", departments=(), session_id="sess")
    runtime: Any = None  # new_id needs neither the runtime nor the issues service
    return Submitter(runtime, settings, runtime, "req", principal, Response(), idempotency_key=key)


def test_a_retry_with_the_same_key_names_the_same_report() -> None:
    assert make_submitter().new_id("issue") == make_submitter().new_id("issue")
    assert make_submitter().new_id("issue").version == 8


def test_ids_differ_by_user_key_purpose_and_secret() -> None:
    base = make_submitter().new_id("issue")
    assert make_submitter(user="u2").new_id("issue") != base
    assert make_submitter(key="k2").new_id("issue") != base
    assert make_submitter().new_id("comment") != base
    assert make_submitter(secret="t" * 40).new_id("issue") != base


def test_without_a_key_every_id_is_new_and_time_ordered() -> None:
    first, second = make_submitter(key=None).new_id("issue"), make_submitter(key=None).new_id("issue")
    assert first != second
    assert first.version == 7
