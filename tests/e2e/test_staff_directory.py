"""Staff find whom to assign an issue to through the real gateway: the staff directory lists a
department's active staff by name (no e-mail addresses), to its own staff and to administrators only."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.e2e.api import PASSWORD, citizen, sign_in
from tests.e2e.conftest import ADMIN, System

pytestmark = pytest.mark.e2e


async def create_staff(admin: httpx.AsyncClient, name: str, *departments: str) -> tuple[str, str]:
    """A new staff member (id, e-mail address)."""
    email = f"dir-{uuid4().hex[:10]}@city.example"
    body = {"email": email, "password": PASSWORD, "display_name": name, "departments": list(departments)}
    response = await admin.post("/v1/admin/users", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"], email


async def directory(client: httpx.AsyncClient, department: str) -> dict[str, Any]:
    response = await client.get("/v1/staff/directory", params={"department": department})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    return response.json()  # type: ignore[no-any-return]


async def test_staff_see_their_departments_staff_and_administrators_see_every_department(system: System) -> None:
    admin = await sign_in(system, *ADMIN)
    # Departments of this test alone: no other test's staff in them.
    dept_a, dept_b = f"dir-a-{uuid4().hex[:8]}", f"dir-b-{uuid4().hex[:8]}"
    clients: list[httpx.AsyncClient] = [admin]
    try:
        asha, asha_email = await create_staff(admin, "Asha", dept_a)
        bharat, _ = await create_staff(admin, "Bharat", dept_a, dept_b)
        chitra, _ = await create_staff(admin, "Chitra", dept_b)
        gone, _ = await create_staff(admin, "Gone", dept_a)
        disabled = await admin.patch(f"/v1/admin/users/{gone}", json={"disabled": True})
        assert disabled.status_code == 200, disabled.text

        member = await sign_in(system, asha_email)
        clients.append(member)
        answer = await member.get("/v1/staff/directory", params={"department": dept_a})
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
        seen = answer.json()
        assert seen["items"] == [
            {"id": asha, "display_name": "Asha", "departments": [dept_a]},
            {"id": bharat, "display_name": "Bharat", "departments": sorted([dept_a, dept_b])},
        ]  # by name; the disabled account and department B's staff absent; no e-mail address
        assert chitra not in {m["id"] for m in seen["items"]}

        refused = problem(await member.get("/v1/staff/directory", params={"department": dept_b}), 403)
        assert dept_b in refused["detail"]
        problem(await member.get("/v1/staff/directory"), 422)  # the department is required
        problem(await member.get("/v1/staff/directory", params={"department": "Not A Code"}), 422)

        assert [m["display_name"] for m in (await directory(admin, dept_a))["items"]] == ["Asha", "Bharat"]
        assert [m["display_name"] for m in (await directory(admin, dept_b))["items"]] == ["Bharat", "Chitra"]

        resident = await citizen(system)
        clients.append(resident)
        problem(await resident.get("/v1/staff/directory", params={"department": dept_a}), 403)
        async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as anonymous:
            problem(await anonymous.get("/v1/staff/directory", params={"department": dept_a}), 401)
    finally:
        for client in clients:
            await client.aclose()
