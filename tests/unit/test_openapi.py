"""The gateway's OpenAPI document tells the truth (issue 15, item 3), and stays what the code generates.

The document is checked here for what schemathesis cannot see for itself (every operation's
problem answers and headers); tests/e2e/test_schemathesis.py checks the gateway against it.
"""

from __future__ import annotations

import secrets

import pytest

from snapfix_gateway.identity.passwords import MAX_LENGTH, WeakPassword, check_strength

pytestmark = pytest.mark.unit


def test_a_long_password_up_to_the_limit_is_judged_not_a_server_error() -> None:
    # zxcvbn refuses more than 72 characters with a ValueError (a 500 on register, found by schemathesis).
    check_strength(secrets.token_urlsafe(96)[:MAX_LENGTH], user_inputs=["ada@example.org"], min_score=3)
    with pytest.raises(WeakPassword):
        check_strength("a" * MAX_LENGTH, user_inputs=["ada@example.org"], min_score=3)


def test_the_gateway_names_the_moments_and_channels_notify_takes() -> None:
    from typing import get_args

    from snapfix_gateway.routes.notifications import Channel, Moment
    from snapfix_notify.preferences import CHANNELS, MOMENTS

    assert (get_args(Moment), get_args(Channel)) == (MOMENTS, CHANNELS)
