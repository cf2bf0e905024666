"""The accept lane reads a request's headers as the stack's layers do."""

from __future__ import annotations

import pytest

from snapfix_gateway.accept_lane import _text

pytestmark = pytest.mark.unit


def test_a_header_sent_twice_is_read_with_its_first_value() -> None:
    # As Starlette's Headers.get and the stack's Idempotency-Key layer (Idempotency.key_of) read it:
    # the direct answer claims, and derives the report's id from, the key the stack would.
    scope = {
        "headers": [
            (b"idempotency-key", b"first-key-0001"),
            (b"content-type", b"application/json"),
            (b"idempotency-key", b"second-key-0002"),
        ]
    }
    assert _text(scope) == {"idempotency-key": "first-key-0001", "content-type": "application/json"}
