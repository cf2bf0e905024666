"""The viewer contract between the gateway and the services (snapfix_shared.viewer): a viewer
is believed only from a valid internal token; plain x-snapfix-* headers are refused."""

from __future__ import annotations

import time
from types import SimpleNamespace

import httpx
import jwt
import pytest
from fastapi import FastAPI

from snapfix_analytics import api as analytics_api
from snapfix_notify.channels.webhook import api as webhooks_api
from snapfix_notify.config import NotifySettings
from snapfix_shared.problems import install_problem_handlers
from snapfix_shared.viewer import AUDIENCE, InternalTokens, InvalidInternalToken, Viewer
from tests.builders import as_viewer

pytestmark = pytest.mark.unit

SECRET = "s" * 40
STAFF = Viewer(user_id="s-1", role="staff", departments=frozenset({"roads"}))


def test_a_minted_token_names_its_viewer() -> None:
    tokens = InternalTokens(SECRET, issuer="gateway")
    assert InternalTokens(SECRET, issuer="issues").verify(tokens.mint(STAFF)) == STAFF
    assert tokens.verify(tokens.mint(None)) == Viewer()  # the gateway's anonymous visitor


def test_a_token_is_minted_once_per_viewer_while_fresh() -> None:
    tokens = InternalTokens(SECRET, issuer="gateway")
    first = tokens.mint(STAFF)
    assert tokens.mint(Viewer(user_id="s-1", role="staff", departments=frozenset({"roads"}))) == first
    assert tokens.mint(Viewer(user_id="s-1", role="citizen")) != first


def test_a_token_is_minted_again_after_half_its_life() -> None:
    tokens = InternalTokens(SECRET, issuer="gateway", lifetime_s=2, reuse_s=1)
    first = tokens.mint(STAFF)
    time.sleep(1.1)
    assert tokens.mint(STAFF) != first


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "someone-else"},  # another audience (a user's access token, say)
        {"exp": int(time.time()) - 60},  # expired past the leeway
        {"role": "superuser"},
        {"dep": "roads"},
    ],
    ids=["audience", "expired", "role", "departments"],
)
def test_tokens_with_wrong_claims_are_refused(claims: dict[str, object]) -> None:
    tokens = InternalTokens(SECRET, issuer="gateway")
    key = tokens._token_keys[0]
    now = int(time.time())
    body = {"aud": AUDIENCE, "iss": "gateway", "iat": now, "exp": now + 60, "sub": "u", **claims}
    with pytest.raises(InvalidInternalToken):
        tokens.verify(jwt.encode(body, key, algorithm="HS256"))


def test_a_token_signed_with_another_secret_or_algorithm_is_refused() -> None:
    tokens = InternalTokens(SECRET, issuer="issues")
    with pytest.raises(InvalidInternalToken):
        tokens.verify(InternalTokens("x" * 40, issuer="gateway").mint(STAFF))
    now = int(time.time())
    unsigned = jwt.encode({"aud": AUDIENCE, "iss": "g", "iat": now, "exp": now + 60, "role": "admin"}, None, "none")
    with pytest.raises(InvalidInternalToken):
        tokens.verify(unsigned)


def test_the_previous_secret_is_accepted_during_a_rotation() -> None:
    old = InternalTokens("o" * 40, issuer="gateway").mint(STAFF)
    assert InternalTokens(SECRET, issuer="issues", previous_secrets=["o" * 40]).verify(old) == STAFF


# -- the services' routes ----------------------------------------------------------------------


def _app(*routers: object) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    for router in routers:
        app.include_router(router)  # type: ignore[arg-type]
    return app


async def test_notify_admin_webhooks_refuse_forged_headers_and_take_a_token() -> None:
    app = _app(webhooks_api.router)

    class Endpoints:
        async def all(self) -> list[object]:
            return []

    app.state.webhooks = SimpleNamespace(settings=NotifySettings(), endpoints=Endpoints(), deliveries=None)
    forged = {"x-snapfix-user": "intruder", "x-snapfix-role": "admin"}
    body = {"url": "https://integrator.example/hook", "event_types": ["*"]}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notify") as http:
        refused = await http.post("/v1/admin/webhooks", json=body, headers=forged)
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert (await http.get("/v1/admin/webhooks")).status_code == 401
        assert (
            await http.get("/v1/admin/webhooks", headers={"authorization": "Bearer not.a.token"})
        ).status_code == 401
        assert (await http.get("/v1/admin/webhooks", headers=as_viewer("c-1", "citizen"))).status_code == 403
        listed = await http.get("/v1/admin/webhooks", headers=as_viewer("a-1", "admin"))
    assert listed.status_code == 200, listed.text


async def test_analytics_staff_routes_refuse_forged_headers() -> None:
    app = _app(analytics_api.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://analytics") as http:
        forged = await http.get("/v1/analytics/late", headers={"x-snapfix-role": "staff"})
        citizen = await http.get("/v1/analytics/late", headers=as_viewer("c-1", "citizen"))
    assert forged.status_code == 401
    assert citizen.status_code == 403
