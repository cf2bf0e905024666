"""What notify does with the events it follows, whoever delivers them (the consumers in
``consumers.py``): keep its own projection, decide who hears what, record the deliveries;
and what a user asks of it through ``api.py`` (preferences, area watches, unsubscribe).

No Kafka here: the consumers parse the records, call these, retry what failed transiently
and commit. For each issue event, its deliveries are recorded *before* the projection takes
the event in, so a redelivered event (the projection already updated) still finds them recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from snapfix_notify import rules
from snapfix_notify.channels.push.devices import DeviceRepository
from snapfix_notify.dispatch import Dispatcher, new_delivery
from snapfix_notify.models import Delivery, DigestItem, IssueView, Watch
from snapfix_notify.preferences import EMAIL, channels_for, merged, unsubscribed
from snapfix_notify.projection import project_issue_event
from snapfix_notify.repository import Contacts, DigestItems, Issues, PersonalData, Preferences, Watches, state_stamp
from snapfix_shared import geo
from snapfix_shared.messages import (
    EmailVerificationRequested,
    IssueAssigned,
    IssueEdited,
    IssueEvent,
    IssueFollowed,
    IssueReported,
    IssueStatusChanged,
    PasswordResetRequested,
    RegistrationAttempted,
    UserDeleted,
    UserEmailVerified,
    UserEvent,
    UserRegistered,
    UserUpdated,
)
from snapfix_shared.messages.base import utcnow

log = logging.getLogger(__name__)
PROJECTED = (IssueReported, IssueStatusChanged, IssueAssigned, IssueEdited, IssueFollowed)


class UserEvents:
    """Contacts, and the account emails (``EmailVerificationRequested``, ``PasswordResetRequested``,
    ``RegistrationAttempted``) asked for. Their links stay sealed in the delivery: the renderer opens them.

    An account's role, departments and access come from ``UserRegistered`` and then ``UserUpdated`` (its
    whole state after an administrator's change); each is applied only if no later one was (ordered by
    ``occurred_at``, then ``message_id``), so a replayed older event never undoes a newer one.
    A disabled account hears nothing (no department's notices; the sender withholds the rest).

    ``UserDeleted`` erases what notify holds about the user: the contact becomes a tombstone without
    address or name (which no older event of the account, replayed, fills again: they are skipped),
    and the feed, preferences, watches, push devices and every delivery to the user (pending or sent,
    with the address it may hold) are deleted. Idempotent: a redelivery finds nothing left to erase."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        contacts: Contacts,
        *,
        personal: PersonalData | None = None,
        devices: DeviceRepository | None = None,
    ) -> None:
        self.dispatcher, self.contacts = dispatcher, contacts
        self.personal, self.devices = personal or PersonalData(), devices or DeviceRepository()

    async def apply(self, event: UserEvent) -> None:
        user_id = str(event.user_id)
        if isinstance(event, UserDeleted):
            await self._erase(user_id)
            return
        if await self.contacts.deleted(user_id):  # a replayed event of a deleted account: nothing comes back
            log.info("user %s: %s %s of a deleted account; skipped", user_id, event.type, event.message_id)
            return
        match event:
            case UserRegistered():
                await self.contacts.set_state(
                    user_id,
                    state_stamp(event.occurred_at, event.message_id),
                    {"role": event.role, "departments": list(event.departments), "disabled": False},
                    always={"email": event.email, "display_name": event.display_name},
                )
                await self.dispatcher.contact_known(user_id)  # after the store: a woken notice finds it
            case UserUpdated():
                applied = await self.contacts.set_state(
                    user_id,
                    state_stamp(event.occurred_at, event.message_id),
                    {"role": event.role, "departments": list(event.departments), "disabled": event.disabled},
                )
                if not applied:
                    log.info(
                        "user %s: UserUpdated %s is older than the state held; left alone", user_id, event.message_id
                    )
            case EmailVerificationRequested():
                await self._account_email(event, "verify_email", {"verify_url_sealed": event.verify_url_sealed})
            case PasswordResetRequested():
                await self._account_email(event, "password_reset", {"reset_url_sealed": event.reset_url_sealed})
            case RegistrationAttempted():
                await self._account_email(event, "registration_attempted", {})
            case UserEmailVerified():
                await self.contacts.upsert(user_id, {"email_verified": True})

    async def _erase(self, user_id: str) -> None:
        """The contact first (from then on nothing is sent to the user), then the rest."""
        await self.contacts.forget(user_id)
        removed = await self.personal.erase(user_id)
        removed["push_devices"] = await self.devices.forget_user(user_id)
        log.info("user %s erased: %s", user_id, removed)

    async def _account_email(
        self,
        event: EmailVerificationRequested | PasswordResetRequested | RegistrationAttempted,
        moment: str,
        context: dict[str, str],
    ) -> None:
        """Account emails always go, to the address the account has now (never subject to preferences)."""
        user_id = str(event.user_id)
        delivery = new_delivery(
            cause_id=str(event.message_id),
            recipient_id=user_id,
            channel=EMAIL,
            moment=moment,
            context=context,
            now=utcnow(),
            address=event.email,
        )
        await self.dispatcher.record([delivery])
        await self.contacts.fill(user_id, {"email": event.email, "display_name": event.display_name})
        await self.dispatcher.contact_known(user_id)


class IssueEvents:
    """Who hears of an issue event, on which channel; area watchers of a new report; the projection."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        contacts: Contacts,
        issues: Issues,
        preferences: Preferences,
        watches: Watches,
        digests: DigestItems,
        base_url: str,
        web_base_url: str | None = None,
    ) -> None:
        self.dispatcher, self.contacts, self.issues = dispatcher, contacts, issues
        self.preferences, self.watches, self.digests, self.base_url = preferences, watches, digests, base_url
        self.web_base_url = web_base_url  # links open the web app when set

    async def flush(self, batch: Batch) -> None:
        # A retried event may have added its deliveries twice: each is recorded once.
        await self.dispatcher.record(list({d.id: d for d in batch.deliveries}.values()))
        batch.deliveries = []

    async def _view(self, issue_id: UUID, batch: Batch) -> IssueView | None:
        if issue_id not in batch.views:
            batch.views[issue_id] = await self.issues.get(issue_id)
        return batch.views[issue_id]

    async def apply(self, event: IssueEvent, batch: Batch) -> None:
        prefs = batch.prefs
        view = await self._view(event.issue_id, batch)
        facts = facts_of(view, str(event.issue_id)) if view else None
        plan = rules.plan(event, facts, base_url=self.base_url, web_base_url=self.web_base_url)
        staff = {
            t.department: await self.contacts.staff_of(t.department)
            for t in plan.targets
            if isinstance(t, rules.Department)
        }
        audience = rules.recipients(plan, staff)
        now = utcnow()
        deliveries: list[Delivery] = []
        for user in audience:
            deliveries += await self._deliveries(str(event.message_id), user, plan.context, prefs, now)
        if isinstance(event, IssueReported):
            deliveries += await self._area(event, plan.context, prefs, now)
        batch.deliveries += deliveries
        if isinstance(event, PROJECTED):
            # Recorded before the projection takes the event in: a redelivery plans from the old view.
            await self.flush(batch)
            await self._project(event)
            batch.views.pop(event.issue_id, None)

    async def _deliveries(
        self,
        cause_id: str,
        user: rules.User,
        context: dict[str, Any],
        prefs: dict[str, dict[str, dict[str, bool]] | None],
        now: Any,
    ) -> list[Delivery]:
        if user.user_id not in prefs:
            prefs[user.user_id] = await self.preferences.get(user.user_id)
        channels = channels_for(user.moment, prefs[user.user_id], self.dispatcher.channels)
        return [
            new_delivery(
                cause_id=cause_id, recipient_id=user.user_id, channel=c, moment=user.moment, context=context, now=now
            )
            for c in channels
        ]

    async def _area(
        self,
        event: IssueReported,
        context: dict[str, Any],
        prefs: dict[str, dict[str, dict[str, bool]] | None],
        now: Any,
    ) -> list[Delivery]:
        """People watching the area of a new report (never its reporter), each told once."""
        lat, lon = event.location.lat, event.location.lon
        context = context or {
            "issue_id": str(event.issue_id),
            "title": event.title,
            "category": event.category,
            "issue_url": rules.issue_url(self.base_url, event.issue_id, web_base_url=self.web_base_url),
        }
        told: set[str] = set()
        deliveries: list[Delivery] = []
        for watch in await self.watches.covering(geo.prefixes(lat, lon)):
            if watch.user_id == event.actor_id or watch.user_id in told:
                continue
            if watch.categories and event.category not in watch.categories:
                continue
            if _outside(watch, lat, lon):
                continue
            told.add(watch.user_id)
            if watch.digest:
                await self.digests.add(
                    DigestItem(
                        id=f"{watch.id}:{event.issue_id}",
                        watch_id=watch.id,
                        user_id=watch.user_id,
                        issue_id=event.issue_id,
                        title=event.title,
                        category=event.category,
                        created_at=now,
                    )
                )
            else:
                user = rules.User(watch.user_id, "area_report")
                deliveries += await self._deliveries(str(event.message_id), user, context, prefs, now)
        return deliveries

    async def _project(self, event: IssueEvent) -> None:
        await project_issue_event(self.issues, event)


@dataclass
class Batch:
    """What one consumed batch reads once (views, preferences) and records at once (deliveries).

    Deliveries of events that leave the projection alone (comments) are recorded together,
    before the batch is committed; an event that changes the projection has them recorded first.
    """

    prefs: dict[str, dict[str, dict[str, bool]] | None] = field(default_factory=dict)
    views: dict[UUID, IssueView | None] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)


def _outside(watch: Watch, lat: float, lon: float) -> bool:
    """A circle watch whose cells hold the point but whose circle does not."""
    if watch.radius_m is None or watch.lat is None or watch.lon is None:
        return False
    return geo.distance_m(watch.lat, watch.lon, lat, lon) > watch.radius_m


def facts_of(view: IssueView, issue_id: str) -> rules.IssueFacts:
    return rules.IssueFacts(
        issue_id=issue_id,
        title=view.title,
        category=view.category,
        department=view.department,
        assignee_id=view.assignee_id,
        reporter_id=view.reporter_id,
        status=view.status,
        followers=tuple(view.followers),
    )


class TooManyWatches(Exception):
    pass


class InvalidChoice(ValueError):
    """A preference change or unsubscribe naming a moment or channel notify does not know."""


class UserChoices:
    """What a user asks of notify through the API: preferences, area watches, one-click unsubscribe."""

    def __init__(self, preferences: Preferences, watches: Watches, *, max_watches: int) -> None:
        self.preferences, self.watches, self.max_watches = preferences, watches, max_watches

    async def change_preferences(self, user_id: str, change: dict[str, dict[str, bool]]) -> dict[str, dict[str, bool]]:
        current = await self.preferences.get(user_id)
        try:
            updated = merged(current, change)
        except ValueError as exc:
            raise InvalidChoice(str(exc)) from exc
        await self.preferences.put(user_id, updated, utcnow())
        return updated

    async def add_watch(self, watch: Watch) -> None:
        if len(await self.watches.of_user(watch.user_id)) >= self.max_watches:
            raise TooManyWatches(f"A user may watch at most {self.max_watches} areas.")
        await self.watches.create(watch)

    async def unsubscribe(self, user_id: str, moment: str | None) -> None:
        """That moment's emails (or all) off; a digest is a watch's choice: those watches fall back to in-app."""
        if moment == "area_digest":
            for watch in await self.watches.of_user(user_id):
                if watch.digest:
                    await self.watches.set_digest(user_id, watch.id, digest=False)
            return
        current = await self.preferences.get(user_id)
        try:
            updated = unsubscribed(current, moment)
        except ValueError as exc:
            raise InvalidChoice(str(exc)) from exc
        await self.preferences.put(user_id, updated, utcnow())
