"""The staff directory's rules: who may read which department, the query, what is listed (never an e-mail)."""

from __future__ import annotations

from uuid import UUID

from snapfix_gateway.identity.directory import MAX_STAFF, cache_key, directory_query, entries, may_read
from snapfix_gateway.identity.user_admin import Current, plan_change


def test_staff_read_their_own_departments_only_and_administrators_any() -> None:
    assert may_read("staff", ["roads", "parks"], "parks")
    assert not may_read("staff", ["roads"], "lighting")
    assert may_read("admin", [], "lighting")
    assert not may_read("citizen", ["roads"], "roads")  # a citizen's claims never open a directory


def test_the_query_asks_for_active_staff_and_administrators_of_the_department() -> None:
    assert directory_query("roads") == {
        "departments": "roads",
        "role": {"$in": ["staff", "admin"]},
        "disabled": {"$ne": True},
    }


def test_entries_are_by_name_without_contact_data_and_bounded() -> None:
    rows = [
        {"_id": UUID(int=3), "display_name": "bela", "departments": ["roads"], "email": "b@city.example"},
        {"_id": UUID(int=2), "display_name": "Asha", "departments": ["roads", "parks"], "email": "a@city.example"},
        {"_id": UUID(int=1), "display_name": "Bela", "departments": ["roads"]},
    ]
    listed = entries(rows)
    assert [e["id"] for e in listed] == [str(UUID(int=2)), str(UUID(int=1)), str(UUID(int=3))]
    assert listed[0] == {"id": str(UUID(int=2)), "display_name": "Asha", "departments": ["parks", "roads"]}
    assert all(set(e) == {"id", "display_name", "departments"} for e in listed)
    many = [{"_id": UUID(int=i), "display_name": f"n{i:04}", "departments": ["roads"]} for i in range(MAX_STAFF + 5)]
    assert len(entries(many)) == MAX_STAFF


def test_the_cache_key_is_per_department() -> None:
    assert cache_key("roads") != cache_key("parks")
    assert "{roads}" in cache_key("roads")  # one hash slot per department in Redis Cluster


def test_a_change_names_the_departments_it_leaves() -> None:
    crew = Current(user_id="018f0000-0000-7000-8000-000000000002", role="staff", departments=("roads",), disabled=False)
    moved = plan_change(crew, actor_id="018f0000-0000-7000-8000-000000000001", departments=["parks"])
    assert moved.previous_departments == ("roads",)
    assert moved.departments == ("parks",)
