"""``/v1/issues``: report an issue (a command on Kafka) and read one (routed to the issues service)."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field
from uuid_utils.compat import uuid7

from snapfix_gateway.deps import ActorDep, IssuesHttpDep, RequestIdDep, RuntimeDep, SettingsDep
from snapfix_gateway.upstream import relay_get
from snapfix_shared.kafka import PublishFailed, publish
from snapfix_shared.messages import Location, ReportIssue
from snapfix_shared.messages.base import utcnow
from snapfix_shared.messages.issues import CategoryCode, Description, Title
from snapfix_shared.problems import ServiceUnavailable
from snapfix_shared.topics import Topic

router = APIRouter(prefix="/v1/issues", tags=["issues"])


class ReportIssueRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Pothole on Main St",
                    "description": "Deep, near the bus stop",
                    "category": "pothole",
                    "lat": 52.52,
                    "lon": 13.405,
                }
            ]
        },
    )

    title: Title
    description: Description = ""
    category: CategoryCode
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Accepted(BaseModel):
    id: UUID
    status: str = "accepted"


class IssueView(BaseModel):
    id: UUID
    title: str
    description: str
    category: str
    lat: float
    lon: float
    status: str
    created_at: str


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses={503: {"description": "Kafka did not take the command; retry after Retry-After"}},
)
async def report_issue(  # noqa: PLR0917 - FastAPI injects by parameter
    body: ReportIssueRequest,
    response: Response,
    runtime: RuntimeDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    actor_id: ActorDep,
) -> Accepted:
    """Accept a report. 202 means the command is stored by Kafka; the report is readable shortly after."""
    issue_id = uuid7()
    now = utcnow()
    command = ReportIssue(
        occurred_at=now,
        accept_by=now + timedelta(seconds=runtime.publish_timeout_s + settings.clock_skew_allowance_s),
        correlation_id=request_id,
        actor_id=actor_id,
        issue_id=issue_id,
        title=body.title,
        description=body.description,
        category=body.category,
        location=Location(lat=body.lat, lon=body.lon),
    )
    try:
        await publish(
            runtime.broker, Topic.ISSUES_COMMANDS, command, source=runtime.source, timeout_s=runtime.publish_timeout_s
        )
    except PublishFailed as exc:
        raise ServiceUnavailable("The report could not be stored right now; please retry.", retry_after_s=5) from exc
    response.headers["Location"] = f"/v1/issues/{issue_id}"
    return Accepted(id=issue_id)


@router.get(
    "/{issue_id}",
    response_model=IssueView,
    responses={
        404: {"description": "No such issue (or not yet stored)"},
        503: {"description": "Issues service unavailable"},
    },
)
async def get_issue(issue_id: UUID, issues: IssuesHttpDep, request_id: RequestIdDep) -> Response:
    return await relay_get(issues, f"/v1/issues/{issue_id}", service="issues", request_id=request_id)
