"""Commands from the edge: checked, then published; ``202`` only after the broker's ack.

A report is checked here, with no call to the issues service: its category and attributes
against the gateway's copy of the catalogue, its photos (if any) with the media service
(``report_check``). A report naming a category the copy does not know, and every other
command, is checked by its owner (``POST /v1/commands/check`` on the issues service), which
answers the client's 403/404/409/422 synchronously. The consumer applies the command later and
checks it again against the state it finds then: a report it refuses becomes ``ReportRejected``
(the reporter reads why at the report's address), other refused commands are dead-lettered.
When the owner cannot check (its database or the service itself is down), the command is still
accepted, unchecked, and the consumer decides after recovery (degraded mode, never a lost report).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import Depends, Header, Response
from prometheus_client import Counter
from uuid_utils.compat import uuid7

from snapfix_gateway.catalogue import CatalogueCopy, CatalogueDep
from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.deps import IssuesHttpDep, MediaHttpDep, PrincipalDep, RequestIdDep, RuntimeDep, SettingsDep
from snapfix_gateway.identity.sessions import Principal
from snapfix_gateway.report_check import check_attributes, check_photos
from snapfix_gateway.upstream import Answer, Upstream, viewer_headers
from snapfix_shared.kafka import PublishFailed, publish
from snapfix_shared.messages.base import utcnow
from snapfix_shared.messages.issues import IssueCommandBase, ReportIssue
from snapfix_shared.problems import Problem, ServiceUnavailable
from snapfix_shared.runtime import Runtime
from snapfix_shared.tally import Tally
from snapfix_shared.topics import Topic

CHECKS_DEFERRED = Counter(
    "snapfix_gateway_checks_deferred_total",
    "Commands accepted unchecked because their owner could not check them",
    ["command"],
)
REPORTS_CHECKED = Counter(
    "snapfix_gateway_reports_checked_total",
    "Reports checked before publishing, by who checked the category (gateway: its copy; owner: the issues service)",
    ["by"],
)
# Counted on every report: tallied (``snapfix_shared.tally``).
CHECKED_HERE, CHECKED_BY_OWNER = Tally(REPORTS_CHECKED.labels("gateway")), Tally(REPORTS_CHECKED.labels("owner"))


@dataclass(slots=True)
class Submitter:
    """Turns one request into one checked, published command on ``issues.commands.v1``.

    One per request, never changed (not frozen: see ``accept_direct.Plain``)."""

    runtime: Runtime
    settings: GatewaySettings
    issues_http: Upstream
    request_id: str
    principal: Principal
    response: Response
    idempotency_key: str | None = None
    # Reports are checked here when these are given (else by the owner, like other commands).
    catalogue: CatalogueCopy | None = None
    media_http: Upstream | None = None

    def new_id(self, purpose: str) -> UUID:
        """The id of what this command creates (a report, a comment).

        With an ``Idempotency-Key`` it is derived from the caller and the key (keyed with the
        server's secret, so nobody can aim at another's id): a retry that outlives the key's
        record (the gateway died between publishing and remembering its answer) creates the
        same report again, which the issues service recognises, instead of a second one.
        """
        if not self.idempotency_key:
            return uuid7()
        secret = self.settings.jwt_secret.get_secret_value().encode()
        message = "\0".join((purpose, self.principal.user_id, self.idempotency_key)).encode()
        digest = bytearray(hmac.digest(secret, message, "sha256")[:16])
        digest[6] = (digest[6] & 0x0F) | 0x80  # version 8: application-defined (RFC 9562)
        digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 4122 variant
        return UUID(bytes=bytes(digest))

    def envelope(self) -> dict[str, Any]:
        """What every command from this request carries: who and when (its deadline is set at publishing)."""
        return {
            "occurred_at": utcnow(),
            "correlation_id": self.request_id,
            "actor_id": self.principal.user_id,
            "actor_role": self.principal.role,
            "actor_departments": self.principal.departments,
        }

    async def __call__(self, command: IssueCommandBase) -> None:
        if not (isinstance(command, ReportIssue) and await self._checked_here(command)):
            await self._owner_check(command)
        runtime = self.runtime
        # The deadline starts now, after the check: a command the broker appends later than
        # this was given up on (503), and the consumer dead-letters it instead of applying it.
        allowance = runtime.publish_timeout_s + self.settings.clock_skew_allowance_s
        # The consumer applies only commands whose actor this proof vouches for (one copy for both).
        update = {
            "accept_by": utcnow() + timedelta(seconds=allowance),
            "actor_proof": runtime.internal_tokens.command_proof(command),
        }
        command = command.model_copy(update=update)
        try:
            await publish(
                runtime.broker,
                Topic.ISSUES_COMMANDS,
                command,
                source=runtime.source,
                timeout_s=runtime.publish_timeout_s,
            )
        except PublishFailed as exc:
            raise ServiceUnavailable(
                "The request could not be stored right now; please retry.", retry_after_s=5
            ) from exc
        # Appended to the raw list itself (a command sets no other Location): ``headers[...] =``
        # builds a MutableHeaders view and scans the list, a seventieth of a report's bytecode.
        self.response.raw_headers.append((b"location", f"/v1/issues/{command.issue_id}".encode()))

    async def _checked_here(self, command: ReportIssue) -> bool:
        """Check a report against the local catalogue and with media; False: the owner must check it.

        A category the copy does not know may be new (an admin created it a moment ago, the copy
        has not read it yet) or not exist: its owner tells which, so the client gets the same 422
        as ever for a category that does not exist, and no refusal for one that does.
        """
        spec = self.catalogue.get(command.category) if self.catalogue is not None else None
        if spec is None or self.media_http is None:
            CHECKED_BY_OWNER.count += 1
            return False
        CHECKED_HERE.count += 1
        check_attributes(command, spec)
        await check_photos(self.media_http, command.media_ids, actor_id=command.actor_id, request_id=self.request_id)
        return True

    async def _owner_check(self, command: IssueCommandBase) -> None:
        try:
            upstream = await self.issues_http.call(
                "POST",
                "/v1/commands/check",
                headers={**viewer_headers(self.request_id, self.principal), "content-type": "application/json"},
                content=command.model_dump_json().encode(),
            )
        except ServiceUnavailable:
            if not self.settings.defer_checks_when_owner_down:
                raise
            CHECKS_DEFERRED.labels(type(command).__name__).inc()
            self.response.headers["SnapFix-Check"] = "deferred"
            # The consumer checks category and attributes, never photos: a report must not show
            # someone else's photo, so its photos are checked with media even now.
            if isinstance(command, ReportIssue) and self.media_http is not None:
                await check_photos(
                    self.media_http, command.media_ids, actor_id=command.actor_id, request_id=self.request_id
                )
        else:
            if upstream.status != 204:
                raise _refusal(upstream)


async def get_submitter(  # noqa: PLR0917 - FastAPI injects by parameter
    runtime: RuntimeDep,
    settings: SettingsDep,
    issues_http: IssuesHttpDep,
    request_id: RequestIdDep,
    principal: PrincipalDep,
    response: Response,
    catalogue: CatalogueDep,
    media_http: MediaHttpDep,
    idempotency_key: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Submitter:
    return Submitter(
        runtime,
        settings,
        issues_http,
        request_id,
        principal,
        response,
        idempotency_key,
        catalogue=catalogue,
        media_http=media_http,
    )


SubmitDep = Annotated[Submitter, Depends(get_submitter)]


def _refusal(upstream: Answer) -> Problem:
    """The owner's problem (403, 404, 409, 422 with its field errors), relayed as it is."""
    try:
        body = orjson.loads(upstream.body)
    except orjson.JSONDecodeError:
        body = {}
    return Problem(
        upstream.status,
        str(body.get("title", "Refused")),
        body.get("detail"),
        type_=str(body.get("type", "about:blank")),
        extra={k: v for k, v in body.items() if k not in {"type", "title", "status", "detail", "instance"}},
    )
