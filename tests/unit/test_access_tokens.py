"""Access tokens: what is remembered once verified, and what is checked on every call."""

from __future__ import annotations

import time

import jwt
import pytest

from snapfix_gateway.identity import tokens as tokens_module
from snapfix_gateway.identity.tokens import LEEWAY_S, InvalidToken, TokenCodec


def codec(ttl_s: int = 900) -> TokenCodec:
    return TokenCodec("s" * 32, issuer="snapfix", audience="snapfix-api", ttl_s=ttl_s)


def test_a_token_verified_once_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = codec(ttl_s=60)
    now = time.time()
    token = tokens.issue("u1", "s1", role="citizen", now=now)
    assert tokens.verify(token).user_id == "u1"  # verified, and remembered
    monkeypatch.setattr(tokens_module.time, "time", lambda: now + 60 + LEEWAY_S + 1)
    with pytest.raises(InvalidToken, match="expired"):
        tokens.verify(token)


def test_the_signature_is_checked_once_per_token(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = codec()
    token = tokens.issue("u1", "s1", role="staff", departments=("roads",))
    calls = []
    decode = jwt.decode
    monkeypatch.setattr(tokens_module.jwt, "decode", lambda *a, **k: calls.append(1) or decode(*a, **k))
    first, second = tokens.verify(token), tokens.verify(token)
    assert first == second
    assert first.departments == ("roads",)
    assert len(calls) == 1


def test_a_refused_token_is_not_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = codec()
    token = tokens.issue("u1", "s1", role="citizen")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    calls = []
    decode = jwt.decode
    monkeypatch.setattr(tokens_module.jwt, "decode", lambda *a, **k: calls.append(1) or decode(*a, **k))
    for _ in range(2):
        with pytest.raises(InvalidToken):
            tokens.verify(forged)
    assert len(calls) == 2  # checked again each time: a failure is never kept


def test_a_token_of_another_key_is_refused_even_after_ours_was_kept() -> None:
    ours, theirs = codec(), TokenCodec("t" * 32, issuer="snapfix", audience="snapfix-api", ttl_s=900)
    token = theirs.issue("u1", "s1", role="admin")
    ours.verify(ours.issue("u1", "s1", role="citizen"))
    with pytest.raises(InvalidToken, match="Signature"):
        ours.verify(token)


def test_an_expiry_that_is_not_a_number_is_refused() -> None:
    tokens = codec()
    now = int(time.time())
    claims = {"iss": "snapfix", "aud": "snapfix-api", "sub": "u1", "sid": "s1", "iat": now, "exp": "soon"}
    token = jwt.encode(claims, "s" * 32, algorithm="HS256", headers={"typ": "at+jwt"})
    with pytest.raises(InvalidToken, match="integer"):
        tokens.verify(token)
