"""Request ids: the caller's ``X-Request-ID`` when sane, else a new UUIDv7 in its canonical text."""

from __future__ import annotations

import uuid

import pytest

from snapfix_gateway.request_id import request_id_from


def test_a_sane_request_id_is_kept() -> None:
    assert request_id_from(b"trace-me-0001") == "trace-me-0001"


@pytest.mark.parametrize("given", [b"", b"bad id", b"short", b"x" * 129, "caf\u00e9-0001".encode()])
def test_otherwise_a_new_uuid7_is_made_in_its_canonical_text(given: bytes) -> None:
    made = [request_id_from(given) for _ in range(3)]
    parsed = [uuid.UUID(m) for m in made]
    assert [p.version for p in parsed] == [7, 7, 7]
    assert made == [str(p) for p in parsed]  # lower-case, hyphenated: as the stdlib writes it
    assert len(set(made)) == 3
    assert made == sorted(made)  # time-ordered: ids made later sort later
