"""Reads and checks routed to the services that own the data (see ``snapfix_shared.http_client``).

The viewer travels to the owner in a short-lived internal token the gateway signs
(``snapfix_shared.viewer``: ``Authorization: Bearer``, the user id, role and departments as
claims; an anonymous visitor gets a token without a user); the owner verifies it and decides
what that viewer may see. A token is minted once per viewer and reused for half its minute of
life. The services are reachable only from inside the deployment, and refuse a viewer without
a valid token.
"""

from __future__ import annotations

from fastapi import Response

from snapfix_shared.http_client import Answer, Upstream, UpstreamError
from snapfix_shared.viewer import Actor, process_tokens

__all__ = ["Answer", "Upstream", "UpstreamError", "relay", "relay_get", "viewer_headers"]

_PASSED_HEADERS = ("content-type", "etag", "cache-control", "last-modified", "vary")


def viewer_headers(request_id: str, principal: Actor | None) -> dict[str, str]:
    """The request id and the internal token of ``principal`` (None: an anonymous visitor)."""
    return {"x-request-id": request_id, "authorization": f"Bearer {process_tokens().mint(principal)}"}


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
    principal: Actor | None = None,
    params: str | None = None,
    if_none_match: str | None = None,
) -> Response:
    """GET ``path`` from the owner and relay its answer (a 304 when ``if_none_match`` still holds)."""
    headers = viewer_headers(request_id, principal)
    if if_none_match:
        headers["if-none-match"] = if_none_match
    return relay(await upstream.call("GET", path, headers=headers, params=params))
