"""Periodic sweeps over notify's own data: overdue reports, and the area-watch digests.

- Overdue: reports whose ``due_at`` passed and that are not settled; their assignee (or
  their department's staff) is told once per report: the deliveries' cause is
  ``overdue-<issue id>``, so two instances sweeping at once record each one once.
- Digests: each digest watch's new reports, at most once per ``digest_interval_s``, in one
  email. Items are claimed under a key fixed until the watch is marked digested, so a
  crash in between re-sends nothing twice and loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from snapfix_notify import rules
from snapfix_notify.config import NotifySettings
from snapfix_notify.dispatch import Dispatcher, new_delivery
from snapfix_notify.models import Delivery, Watch
from snapfix_notify.preferences import EMAIL, channels_for
from snapfix_notify.repository import Contacts, DigestItems, Issues, Preferences, StoreError, Watches
from snapfix_notify.service import facts_of
from snapfix_shared.messages.base import utcnow
from snapfix_shared.tasks import cancelled

log = logging.getLogger(__name__)


class Sweeps:
    def __init__(
        self,
        settings: NotifySettings,
        dispatcher: Dispatcher,
        *,
        issues: Issues,
        contacts: Contacts,
        preferences: Preferences,
        watches: Watches,
        digests: DigestItems,
    ) -> None:
        self.settings, self.dispatcher = settings, dispatcher
        self.issues, self.contacts, self.preferences = issues, contacts, preferences
        self.watches, self.digests = watches, digests
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._tasks.append(
            asyncio.create_task(self._every(self.settings.overdue_sweep_s, self.overdue), name="overdue")
        )
        digest_every = min(self.settings.digest_interval_s, 60.0)
        self._tasks.append(asyncio.create_task(self._every(digest_every, self.digest), name="digests"))

    async def stop(self) -> None:
        await cancelled(*self._tasks)

    @staticmethod
    async def _every(interval_s: float, sweep: object) -> None:
        assert callable(sweep)
        while True:
            try:
                await sweep()
            except StoreError as exc:
                log.warning("sweep %s: store unavailable (%s)", getattr(sweep, "__name__", sweep), exc)
            except Exception:
                log.exception("sweep failed")
            await asyncio.sleep(interval_s)

    async def overdue(self) -> int:
        """Tell the staff about every newly overdue report; returns how many reports."""
        now = utcnow()
        found = await self.issues.overdue(now, sorted(rules.SETTLED))
        for view in found:
            due = view.due_at.isoformat(timespec="minutes") if view.due_at else ""
            plan = rules.overdue(
                facts_of(view, str(view.id)),
                base_url=self.settings.public_base_url,
                web_base_url=self.settings.web_base_url,
                due_at=due,
            )
            staff = {
                t.department: await self.contacts.staff_of(t.department)
                for t in plan.targets
                if isinstance(t, rules.Department)
            }
            deliveries: list[Delivery] = []
            for user in rules.recipients(plan, staff):
                choices = await self.preferences.get(user.user_id)
                deliveries += [
                    new_delivery(
                        cause_id=f"overdue-{view.id}",
                        recipient_id=user.user_id,
                        channel=c,
                        moment=user.moment,
                        context=plan.context,
                        now=now,
                    )
                    for c in channels_for(user.moment, choices, self.dispatcher.channels)
                ]
            await self.dispatcher.record(deliveries)
            await self.issues.mark_overdue_sent(view.id)
        return len(found)

    async def digest(self) -> int:
        """Send every digest that is due; returns how many were recorded."""
        now = utcnow()
        sent = 0
        for watch in await self.watches.digests_due(now - timedelta(seconds=self.settings.digest_interval_s)):
            sent += await self._digest(watch)
        return sent

    async def _digest(self, watch: Watch) -> int:
        since = watch.last_digest_at.isoformat() if watch.last_digest_at else "start"
        key = f"digest-{watch.id}-{since}"
        items = await self.digests.take(watch.id, key)
        if items and EMAIL in self.dispatcher.channels:
            context = {
                "items": [
                    {
                        "issue_id": str(i.issue_id),
                        "title": i.title,
                        "category": i.category,
                        "issue_url": rules.issue_url(
                            self.settings.public_base_url, i.issue_id, web_base_url=self.settings.web_base_url
                        ),
                    }
                    for i in items
                ]
            }
            delivery = new_delivery(
                cause_id=key,
                recipient_id=watch.user_id,
                channel=EMAIL,
                moment="area_digest",
                context=context,
                now=utcnow(),
            )
            await self.dispatcher.record([delivery])
        await self.watches.digested(watch.id, utcnow())
        return 1 if items else 0
