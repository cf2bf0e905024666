"""Who the client is behind the edge: the per-IP limits count the address a trusted edge names.

The gateway is loaded the way ``snapfix_shared.serve`` runs it (uvicorn's own config and
its proxy-headers middleware), then asked from an ingress controller's address.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import ValidationError
from starlette.types import ASGIApp

from snapfix_gateway.app import create_app
from snapfix_gateway.config import GatewaySettings
from snapfix_shared.serve import server_options

pytestmark = pytest.mark.unit

INGRESS_POD = "10.244.3.17"  # an ingress-nginx pod, inside the cluster's pod network
STRANGER = "198.51.100.7"  # a peer outside the trusted set


def served(**overrides: Any) -> ASGIApp:
    # Nothing listens on port 1: limits are counted in memory, by the same keys as in Redis.
    settings = GatewaySettings(
        redis_url="redis://127.0.0.1:1/0",
        redis_timeout_s=0.2,
        live_updates=False,
        rate_limit_anonymous="3/minute",
        **overrides,
    )
    config = uvicorn.Config(create_app(settings), **server_options(settings))
    config.load()
    return config.loaded_app


@pytest.fixture
def app_in_cluster() -> ASGIApp:
    return served(forwarded_allow_ips="10.0.0.0/8")


async def ask(app: ASGIApp, peer: str, forwarded_for: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        return await http.get("/v1/no-such-thing", headers={"x-forwarded-for": forwarded_for})


async def statuses(app: ASGIApp, peer: str, forwarded: list[str]) -> list[int]:
    return [(await ask(app, peer, address)).status_code for address in forwarded]


async def test_clients_behind_a_trusted_ingress_get_buckets_of_their_own(app_in_cluster: ASGIApp) -> None:
    assert await statuses(app_in_cluster, INGRESS_POD, ["203.0.113.1"] * 4) == [404, 404, 404, 429]
    other = await ask(app_in_cluster, INGRESS_POD, "203.0.113.2")
    assert other.status_code == 404
    assert other.headers["ratelimit"] == '"anonymous";r=2;t=60'


async def test_the_client_address_is_the_one_the_ingress_appends(app_in_cluster: ASGIApp) -> None:
    """A client's own X-Forwarded-For entries come first; the ingress appends the real peer last."""
    spoofed = [f"192.0.2.{n}, 203.0.113.9" for n in range(4)]
    assert await statuses(app_in_cluster, INGRESS_POD, spoofed) == [404, 404, 404, 429]


async def test_an_untrusted_peer_cannot_pick_its_address(app_in_cluster: ASGIApp) -> None:
    forwarded = [f"203.0.113.{n}" for n in range(4)]
    assert await statuses(app_in_cluster, STRANGER, forwarded) == [404, 404, 404, 429]


async def test_by_default_only_the_local_edge_is_trusted() -> None:
    app = served()
    assert await statuses(app, INGRESS_POD, [f"203.0.113.{n}" for n in range(4)]) == [404, 404, 404, 429]
    local = served()
    assert await statuses(local, "127.0.0.1", [f"203.0.113.{n}" for n in range(4)]) == [404] * 4


def test_a_mistyped_trusted_network_stops_the_process_at_start() -> None:
    with pytest.raises(ValidationError, match="forwarded_allow_ips"):
        GatewaySettings(forwarded_allow_ips="10.0.0.0/8, ingress-nginx")
