"""Reads and checks routed to the services that own the data (see ``snapfix_shared.http_client``).

The signed-in user travels to the owner as ``x-snapfix-user``, ``x-snapfix-role`` and
``x-snapfix-departments``; the owner decides what that viewer may see. The services are
reachable only from inside the deployment (the gateway is the only public entry).
"""

from __future__ import annotations

from fastapi import Response

from snapfix_gateway.identity.sessions import Principal
from snapfix_shared.http_client import Answer, Upstream, UpstreamError

__all__ = ["Answer", "Upstream", "UpstreamError", "relay", "relay_get", "viewer_headers"]

_PASSED_HEADERS = ("content-type", "etag", "cache-control", "last-modified")


def viewer_headers(request_id: str, principal: Principal | None) -> dict[str, str]:
    headers = {"x-request-id": request_id}
    if principal is not None:
        headers |= {
            "x-snapfix-user": principal.user_id,
            "x-snapfix-role": principal.role,
            "x-snapfix-departments": ",".join(principal.departments),
        }
    return headers


def relay(answer: Answer) -> Response:
    headers = {k: v for k in _PASSED_HEADERS if (v := answer.headers.get(k))}
    if answer.status == 304:  # not modified: no body, no content type
        headers.pop("content-type", None)
        return Response(status_code=304, headers=headers)
    return Response(answer.body, status_code=answer.status, headers=headers)


async def relay_get(
    upstream: Upstream,
    path: str,
    *,
    request_id: str,
    principal: Principal | None = None,
    params: str | None = None,
    if_none_match: str | None = None,
) -> Response:
    """GET ``path`` from the owner and relay its answer (a 304 when ``if_none_match`` still holds)."""
    headers = viewer_headers(request_id, principal)
    if if_none_match:
        headers["if-none-match"] = if_none_match
    return relay(await upstream.call("GET", path, headers=headers, params=params))
