"""Commands from the edge: checked by their owner, then published; ``202`` only after the broker's ack.

The owner's check (``POST /v1/commands/check`` on the issues service) answers the client's
403/404/409/422 synchronously; the consumer applies the command later and re-checks it
against the state it finds then.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import orjson

from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.identity.sessions import Principal
from snapfix_gateway.upstream import call, viewer_headers
from snapfix_shared.kafka import PublishFailed, publish
from snapfix_shared.messages import Command
from snapfix_shared.messages.base import utcnow
from snapfix_shared.problems import Problem, ServiceUnavailable
from snapfix_shared.runtime import Runtime
from snapfix_shared.topics import Topic


def command_fields(
    runtime: Runtime, settings: GatewaySettings, request_id: str, principal: Principal
) -> dict[str, object]:
    """The envelope every command from this request carries: who, when, and the deadline to take effect."""
    now = utcnow()
    return {
        "occurred_at": now,
        "accept_by": now + timedelta(seconds=runtime.publish_timeout_s + settings.clock_skew_allowance_s),
        "correlation_id": request_id,
        "actor_id": principal.user_id,
        "actor_role": principal.role,
        "actor_departments": principal.departments,
    }


async def check_and_publish(
    runtime: Runtime,
    issues_http: httpx.AsyncClient,
    topic: Topic,
    command: Command,
    *,
    request_id: str,
    principal: Principal,
) -> None:
    upstream = await call(
        issues_http,
        "POST",
        "/v1/commands/check",
        service="issues",
        headers={**viewer_headers(request_id, principal), "content-type": "application/json"},
        content=command.model_dump_json().encode(),
    )
    if upstream.status_code != 204:
        raise _refusal(upstream)
    try:
        await publish(runtime.broker, topic, command, source=runtime.source, timeout_s=runtime.publish_timeout_s)
    except PublishFailed as exc:
        raise ServiceUnavailable("The request could not be stored right now; please retry.", retry_after_s=5) from exc


def _refusal(upstream: httpx.Response) -> Problem:
    """The owner's problem (403, 404, 409, 422 with its field errors), relayed as it is."""
    try:
        body = orjson.loads(upstream.content)
    except orjson.JSONDecodeError:
        body = {}
    return Problem(
        upstream.status_code,
        str(body.get("title", "Refused")),
        body.get("detail"),
        type_=str(body.get("type", "about:blank")),
        extra={k: v for k, v in body.items() if k not in {"type", "title", "status", "detail", "instance"}},
    )
