"""Services believe a viewer only from the gateway's internal token (issue 15, finding 3).

Anyone who reaches a service's port (another container on the network, say) used to be whoever
its x-snapfix-* headers said. Now such a call is a 401 problem; the same call with a token the
gateway signs works; and a command put on Kafka without the gateway's proof of its actor never
takes effect.
"""

from __future__ import annotations

import httpx
import pytest

from snapfix_shared.messages import ChangeIssueStatus
from snapfix_shared.topics import Topic
from snapfix_shared.viewer import InternalTokens
from tests.builders import as_viewer, make_command, make_report_body
from tests.e2e.api import citizen, eventually, user_id
from tests.e2e.conftest import System
from tests.stack import header, produce, read_topic

pytestmark = pytest.mark.e2e

FORGED_ADMIN = {"x-snapfix-user": "intruder", "x-snapfix-role": "admin", "x-snapfix-departments": "roads"}


def _is_problem(response: httpx.Response, status: int) -> bool:
    return response.status_code == status and response.headers["content-type"] == "application/problem+json"


async def test_a_victims_reports_are_not_listed_to_a_caller_on_the_issues_port(system: System) -> None:
    victim = await citizen(system)
    try:
        accepted = await victim.post("/v1/issues", json=make_report_body(anonymous=True))
        assert accepted.status_code == 202, accepted.text
        issue_id = accepted.json()["id"]
        # Through the gateway, as ever: the victim's own list, the anonymous report included.
        await eventually(victim, "/v1/me/issues", lambda page: issue_id in [i["id"] for i in page["items"]])

        victim_id = user_id(victim)
        path = f"/v1/users/{victim_id}/issues"
        async with httpx.AsyncClient(base_url=system.urls["issues"], timeout=10) as direct:
            assert _is_problem(await direct.get(path, headers=FORGED_ADMIN), 401)
            assert _is_problem(await direct.get(path, headers={"x-snapfix-user": victim_id}), 401)
            assert _is_problem(await direct.get(path), 401)
            foreign = InternalTokens("an-attackers-own-secret-of-32-characters-or-more", issuer="gateway")
            assert _is_problem(await direct.get(path, headers=foreign.headers(None)), 401)
            # Another signed-in user, even with a real token, sees only their own lists.
            assert _is_problem(await direct.get(path, headers=as_viewer("someone-else", "admin")), 403)
            # The same call as the gateway makes it for the victim.
            mine = await direct.get(path, headers=as_viewer(victim_id, "citizen"))
            assert mine.status_code == 200, mine.text
            assert issue_id in [i["id"] for i in mine.json()["items"]]
            # Internal routes answer SnapFix processes only; public reads stay open.
            assert _is_problem(await direct.get(f"/v1/issues/{issue_id}/audience"), 401)
            assert (await direct.get(f"/v1/issues/{issue_id}/audience", headers=as_viewer())).status_code == 200
            assert (await direct.get(f"/v1/issues/{issue_id}")).status_code == 200
    finally:
        await victim.aclose()


async def test_no_webhook_is_registered_on_the_notify_port_without_the_gateways_token(system: System) -> None:
    body = {"url": "http://127.0.0.1:9/every-event", "event_types": ["*"]}
    async with httpx.AsyncClient(base_url=system.urls["notify"], timeout=10) as direct:
        refused = await direct.post("/v1/admin/webhooks", json=body, headers=FORGED_ADMIN)
        assert _is_problem(refused, 401), refused.text
        assert _is_problem(await direct.get("/v1/admin/webhooks", headers=FORGED_ADMIN), 401)
        assert _is_problem(await direct.get("/v1/me/notifications", headers={"x-snapfix-user": "victim"}), 401)

        created = await direct.post("/v1/admin/webhooks", json=body, headers=as_viewer("admin-e2e", "admin"))
        assert created.status_code == 201, created.text
        endpoint = created.json()["id"]
        deleted = await direct.delete(f"/v1/admin/webhooks/{endpoint}", headers=as_viewer("admin-e2e", "admin"))
        assert deleted.status_code == 204


async def test_analytics_answer_staff_only_with_the_gateways_token(system: System) -> None:
    params: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=system.urls["analytics"], timeout=10) as direct:
        forged = await direct.get("/v1/analytics/summary", params=params, headers={"x-snapfix-role": "staff"})
        assert _is_problem(forged, 401), forged.text
        citizen_token = await direct.get("/v1/analytics/summary", params=params, headers=as_viewer("c", "citizen"))
        assert _is_problem(citizen_token, 403)
        staff = await direct.get("/v1/analytics/summary", params=params, headers=as_viewer("s", "staff", "roads"))
        assert staff.status_code == 200, staff.text


async def test_a_command_forged_on_kafka_is_dead_lettered_and_never_applied(system: System) -> None:
    victim = await citizen(system)
    try:
        accepted = await victim.post("/v1/issues", json=make_report_body())
        assert accepted.status_code == 202, accepted.text
        issue_id = accepted.json()["id"]
        await eventually(victim, f"/v1/issues/{issue_id}", lambda issue: issue["status"] == "open")

        forged = [
            make_command(ChangeIssueStatus, issue_id=issue_id, to="rejected", actor_id="intruder", actor_role="admin"),
            InternalTokens("an-attackers-own-secret-of-32-characters-or-more", issuer="gateway").sign_command(
                make_command(ChangeIssueStatus, issue_id=issue_id, to="closed", actor_id="intruder", actor_role="admin")
            ),
        ]
        for command in forged:
            await produce(
                system.stack.kafka,
                Topic.ISSUES_COMMANDS,
                command.model_dump_json().encode(),
                key=command.partition_key().encode(),
            )
        ids = {str(c.message_id) for c in forged}
        dead = await read_topic(
            system.stack.kafka,
            Topic.ISSUES_COMMANDS.dlq,
            lambda r: r.value is not None and any(i.encode() in r.value for i in ids),
            timeout_s=60,
            count=2,
        )
        assert {header(r, "dlq_reason") for r in dead} == {"unverified"}

        # A later, honest command on the same issue is applied: the forged ones changed nothing.
        comment = await victim.post(f"/v1/issues/{issue_id}/comments", json={"body": "still here"})
        assert comment.status_code == 202, comment.text
        issue = await eventually(victim, f"/v1/issues/{issue_id}", lambda i: len(i.get("comments", [])) == 1)
        assert issue["status"] == "open"
    finally:
        await victim.aclose()
