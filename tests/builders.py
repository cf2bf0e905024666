"""Keyword-only builders of test data: ``make_report_command(**overrides)``."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar
from uuid import uuid4

import httpx
from aiokafka import ConsumerRecord
from uuid_utils.compat import uuid7

from snapfix_shared.messages import Location, Message, ReportIssue
from snapfix_shared.messages.base import Command, Role, utcnow
from snapfix_shared.viewer import Viewer, process_tokens


def make_report_command(**overrides: Any) -> ReportIssue:
    now = utcnow()
    fields: dict[str, Any] = {
        "occurred_at": now,
        "accept_by": now + timedelta(seconds=30),
        "correlation_id": f"test-{uuid4()}",
        "issue_id": uuid7(),
        "title": f"Pothole {uuid4().hex[:8]}",
        "description": "Deep hole next to the bus stop",
        "category": "pothole",
        "location": Location(lat=52.52, lon=13.405),
    }
    fields.update(overrides)
    return ReportIssue(**fields)


def make_report_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": f"Broken streetlight {uuid4().hex[:8]}",
        "description": "Dark since Monday",
        "category": "streetlight",
        "lat": 48.8566,
        "lon": 2.3522,
    }
    body.update(overrides)
    return body


C = TypeVar("C", bound=Command)


def make_command(kind: type[C], **fields: Any) -> C:
    """Any command with a fresh envelope: ``make_command(ChangeIssueStatus, issue_id=..., to="resolved")``."""
    now = utcnow()
    envelope: dict[str, Any] = {
        "occurred_at": now,
        "accept_by": now + timedelta(seconds=30),
        "correlation_id": f"test-{uuid4()}",
    }
    return kind(**{**envelope, **fields})


def staff_of(*departments: str, user_id: str | None = None) -> dict[str, Any]:
    """The actor fields of a staff member of ``departments``."""
    return {
        "actor_id": user_id or f"staff-{uuid4().hex[:8]}",
        "actor_role": "staff",
        "actor_departments": departments,
    }


def citizen(user_id: str | None = None) -> dict[str, Any]:
    return {"actor_id": user_id or f"citizen-{uuid4().hex[:8]}", "actor_role": "citizen"}


ADMIN: dict[str, Any] = {"actor_id": "admin-1", "actor_role": "admin"}


# -- the gateway's proofs, for tests that call a service or its consumer directly -----------------


def signed(command: C) -> C:
    """The command with the actor proof the gateway gives it (a consumer dead-letters one without)."""
    return process_tokens().sign_command(command)


class _ViewerHeaders(Mapping[str, str]):
    """The ``Authorization`` header of a viewer's internal token, minted afresh whenever it is read."""

    def __init__(self, viewer: Viewer) -> None:
        self.viewer = viewer

    def _current(self) -> dict[str, str]:
        return process_tokens().headers(self.viewer)

    def __getitem__(self, name: str) -> str:
        return self._current()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return 1


def as_viewer(user_id: str | None = None, role: Role | None = None, *departments: str) -> Mapping[str, str]:
    """``headers=`` of a call to a service as the gateway makes it for this viewer: its internal token,
    read afresh at each request (a module-level constant never sends an expired one)."""
    return _ViewerHeaders(Viewer(user_id=user_id, role=role, departments=frozenset(departments)))


class AsViewer(httpx.Auth):
    """``auth=`` for an httpx client or call: each request gets the gateway's internal token of
    this viewer, minted as the gateway mints it (so a long test never sends an expired one)."""

    def __init__(self, user_id: str | None = None, role: Role | None = None, *departments: str) -> None:
        self.viewer = Viewer(user_id=user_id, role=role, departments=frozenset(departments))

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(process_tokens().headers(self.viewer))
        yield request


def consumed(topic: str, *bodies: Message | bytes) -> list[ConsumerRecord[Any, Any]]:
    """Messages (or raw bytes) as a consumer reads them from ``topic``: one record each, offsets from 0."""
    return [
        ConsumerRecord(
            topic=topic,
            partition=0,
            offset=offset,
            timestamp=0,
            timestamp_type=0,
            key=None,
            value=body if isinstance(body, bytes) else body.model_dump_json().encode(),
            checksum=None,
            serialized_key_size=0,
            serialized_value_size=0,
            headers=[],
        )
        for offset, body in enumerate(bodies)
    ]


@dataclass
class DeadLetters:
    """Only what a consumer uses of ``Runtime`` to dead-letter: the letters, kept in memory."""

    dead: list[tuple[int, str, str, str]] = field(default_factory=list)  # offset, group, reason, error

    async def dead_letter(self, record: ConsumerRecord[Any, Any], *, group: str, reason: str, error: str) -> None:
        self.dead.append((record.offset, group, reason, error))


def http_scope(
    method: str, path: str, headers: list[tuple[bytes, bytes]], *, client: tuple[str, int] = ("127.0.0.1", 50000)
) -> dict[str, Any]:
    """An ASGI HTTP scope, as uvicorn gives an app a request (headers as sent: lower-case names, bytes)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": client,
        "server": ("gateway", 80),
        "state": {},
    }
