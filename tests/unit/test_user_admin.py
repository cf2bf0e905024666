"""The rules of an administrator's change to an account, and the user list's cursor and query."""

from __future__ import annotations

from uuid import UUID

import pytest
from uuid_utils.compat import uuid7

from snapfix_gateway.identity.user_admin import (
    Current,
    InvalidChange,
    InvalidCursor,
    SelfLockout,
    decode_cursor,
    encode_cursor,
    list_query,
    list_sort,
    plan_change,
)
from snapfix_shared.messages import USER_EVENTS, UserUpdated

ADMIN_ID = "018f0000-0000-7000-8000-000000000001"
CREW = Current(user_id="018f0000-0000-7000-8000-000000000002", role="staff", departments=("roads",), disabled=False)
ME = Current(user_id=ADMIN_ID, role="admin", departments=(), disabled=False)


def test_the_same_change_twice_changes_nothing_the_second_time() -> None:
    first = plan_change(CREW, actor_id=ADMIN_ID, departments=["traffic", "roads", "traffic"], role="staff")
    assert first.changed == ("departments",)
    assert first.departments == ("roads", "traffic")  # sorted, once each
    after = Current(CREW.user_id, first.role, first.departments, first.disabled)
    again = plan_change(after, actor_id=ADMIN_ID, departments=["roads", "traffic"], role="staff")
    assert again.changed == ()


def test_fields_left_out_stay_as_they_are() -> None:
    change = plan_change(CREW, actor_id=ADMIN_ID, disabled=True)
    assert (change.role, change.departments, change.disabled, change.changed) == (
        "staff",
        ("roads",),
        True,
        ("disabled",),
    )
    assert plan_change(CREW, actor_id=ADMIN_ID).changed == ()


def test_every_changed_field_is_named() -> None:
    change = plan_change(CREW, actor_id=ADMIN_ID, role="admin", departments=["parks"], disabled=True)
    assert change.changed == ("role", "departments", "disabled")


def test_demoting_to_citizen_clears_the_departments() -> None:
    change = plan_change(CREW, actor_id=ADMIN_ID, role="citizen")
    assert (change.role, change.departments, change.changed) == ("citizen", (), ("role", "departments"))


def test_a_citizen_given_departments_is_refused() -> None:
    with pytest.raises(InvalidChange) as refused:
        plan_change(CREW, actor_id=ADMIN_ID, role="citizen", departments=["roads"])
    assert refused.value.field == "departments"


def test_staff_without_a_department_is_refused() -> None:
    with pytest.raises(InvalidChange, match="at least one department"):
        plan_change(CREW, actor_id=ADMIN_ID, departments=[])
    citizen = Current(CREW.user_id, "citizen", (), False)
    with pytest.raises(InvalidChange, match="at least one department"):
        plan_change(citizen, actor_id=ADMIN_ID, role="staff")
    assert plan_change(citizen, actor_id=ADMIN_ID, role="staff", departments=["roads"]).changed == (
        "role",
        "departments",
    )


@pytest.mark.parametrize(
    "change", [{"disabled": True}, {"role": "staff", "departments": ["roads"]}, {"role": "citizen"}]
)
def test_an_administrator_cannot_disable_or_demote_themselves(change: dict[str, object]) -> None:
    with pytest.raises(SelfLockout):
        plan_change(ME, actor_id=ADMIN_ID, **change)  # type: ignore[arg-type]


def test_an_administrator_may_change_their_own_departments_and_enable_themselves() -> None:
    assert plan_change(ME, actor_id=ADMIN_ID, departments=["parks"], disabled=False, role="admin").changed == (
        "departments",
    )


def test_another_administrator_may_be_demoted_and_disabled() -> None:
    other = Current("018f0000-0000-7000-8000-000000000003", "admin", (), False)
    change = plan_change(other, actor_id=ADMIN_ID, role="citizen", disabled=True)
    assert change.changed == ("role", "disabled")


def test_new_departments_must_be_the_catalogues_but_kept_ones_stay() -> None:
    known = {"roads", "traffic"}
    with pytest.raises(InvalidChange, match="potholes-dept") as refused:
        plan_change(CREW, actor_id=ADMIN_ID, departments=["roads", "potholes-dept"], known_departments=known)
    assert "roads, traffic" in str(refused.value)
    legacy = Current(CREW.user_id, "staff", ("old-dept",), False)  # the catalogue moved on; the account stays valid
    assert plan_change(legacy, actor_id=ADMIN_ID, departments=["old-dept", "roads"], known_departments=known).changed
    # Not checked when the catalogue is not known (its copy not loaded yet).
    assert plan_change(CREW, actor_id=ADMIN_ID, departments=["anything"], known_departments=None).changed


@pytest.mark.parametrize("order", ["newest", "email"])
def test_a_cursor_round_trips_in_its_own_order_only(order: str) -> None:
    row = {"_id": UUID(str(uuid7())), "email": "ada+x@example.org"}
    cursor = encode_cursor(order, row)  # type: ignore[arg-type]
    expected = row["_id"] if order == "newest" else row["email"]
    assert decode_cursor(order, cursor) == expected  # type: ignore[arg-type]
    other = "email" if order == "newest" else "newest"
    with pytest.raises(InvalidCursor, match="another order"):
        decode_cursor(other, cursor)  # type: ignore[arg-type]


@pytest.mark.parametrize("cursor", ["n.!!!", "n.bm90LWEtdXVpZA", "", "x.abc"])
def test_a_cursor_that_is_not_ours_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor("newest", cursor)


def test_the_list_query_matches_the_email_prefix_literally_and_in_any_case() -> None:
    query = list_query("staff", " Crew.A+B@", "email", "crew.a+b@c.org")
    assert query == {"role": "staff", "email": {"$regex": r"^crew\.a\+b@", "$gt": "crew.a+b@c.org"}}
    after = UUID(str(uuid7()))
    assert list_query(None, None, "newest", after) == {"_id": {"$lt": after}}
    assert list_query(None, None, "newest", None) == {}
    assert list_sort("newest") == [("_id", -1)]
    assert list_sort("email") == [("email", 1)]


def test_user_updated_travels_on_the_users_topic_and_names_what_changed() -> None:
    event = UserUpdated(
        correlation_id="c",
        actor_id=ADMIN_ID,
        user_id=UUID(CREW.user_id),
        role="staff",
        departments=("roads",),
        disabled=True,
        changed=("disabled",),
    )
    parsed = USER_EVENTS.validate_json(event.model_dump_json())
    assert parsed == event
    assert parsed.partition_key() == CREW.user_id
    with pytest.raises(ValueError, match="at least 1"):
        UserUpdated(correlation_id="c", actor_id=ADMIN_ID, user_id=UUID(CREW.user_id), role="staff", changed=())
