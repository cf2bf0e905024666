"""Reads routed to the service that owns the data, over pooled HTTP with timeouts."""

from __future__ import annotations

import httpx
from fastapi import Response

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


async def relay_get(client: httpx.AsyncClient, path: str, *, service: str, request_id: str) -> Response:
    """GET ``path`` from the owner and relay its answer; an unreachable owner is a 503."""
    try:
        upstream = await client.get(path, headers={"x-request-id": request_id})
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(f"The {service} service is not reachable ({type(exc).__name__}).") from exc
    if upstream.status_code >= 500:
        raise ServiceUnavailable(f"The {service} service failed ({upstream.status_code}).")
    headers = {k: v for k in _PASSED_HEADERS if (v := upstream.headers.get(k))}
    return Response(upstream.content, status_code=upstream.status_code, headers=headers)
