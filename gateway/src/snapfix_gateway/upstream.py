"""Reads routed to the service that owns the data, over pooled HTTP with timeouts.

The signed-in user travels to the owner as ``x-snapfix-user``, ``x-snapfix-role`` and
``x-snapfix-departments``; the owner decides what that viewer may see. The services are
reachable only from inside the deployment (the gateway is the only public entry).
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from fastapi import Response

from snapfix_gateway.identity.sessions import Principal
from snapfix_shared.problems import ServiceUnavailable

_PASSED_HEADERS = ("content-type", "etag", "cache-control", "last-modified")


def upstream_client(base_url: str, timeout_s: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout_s),
        # Idle connections are dropped well before the services' keep-alive timeout
        # (see serve.py), so a request never goes out on a socket the server is closing.
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=100, keepalive_expiry=20),
    )


def viewer_headers(request_id: str, principal: Principal | None) -> dict[str, str]:
    headers = {"x-request-id": request_id}
    if principal is not None:
        headers |= {
            "x-snapfix-user": principal.user_id,
            "x-snapfix-role": principal.role,
            "x-snapfix-departments": ",".join(principal.departments),
        }
    return headers


async def call(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    service: str,
    headers: Mapping[str, str],
    params: str | None = None,
    content: bytes | None = None,
) -> httpx.Response:
    """One request to an owner; unreachable or failing owners are a 503 for the client."""
    try:
        upstream = await client.request(method, path, headers=dict(headers), params=params, content=content)
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(f"The {service} service is not reachable ({type(exc).__name__}).") from exc
    if upstream.status_code >= 500:
        raise ServiceUnavailable(f"The {service} service failed ({upstream.status_code}).")
    return upstream


def relay(upstream: httpx.Response) -> Response:
    headers = {k: v for k in _PASSED_HEADERS if (v := upstream.headers.get(k))}
    return Response(upstream.content, status_code=upstream.status_code, headers=headers)


async def relay_get(
    client: httpx.AsyncClient,
    path: str,
    *,
    service: str,
    request_id: str,
    principal: Principal | None = None,
    params: str | None = None,
) -> Response:
    """GET ``path`` from the owner and relay its answer."""
    headers = viewer_headers(request_id, principal)
    return relay(await call(client, "GET", path, service=service, headers=headers, params=params))
