"""The in-app channel: a notice becomes an entry of the recipient's feed (``GET /v1/me/notifications``).

Written once under the delivery key, so a repeated send adds nothing. Entries are stored by
group commit (``group_commit.py``): one insert for the notices sent at the same time.
"""

from __future__ import annotations

from snapfix_notify.channels import Notice
from snapfix_notify.group_commit import GroupCommit
from snapfix_notify.models import Notification
from snapfix_notify.repository import Feed
from snapfix_shared.messages.base import utcnow


class InAppChannel:
    name = "in_app"

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self._entries: GroupCommit[Notification] = GroupCommit(feed.add_many)

    async def deliver(self, notice: Notice) -> None:
        await self._entries.put(
            Notification.model_construct(  # typed here; inserted once, never tracked
                id=notice.key,
                user_id=notice.recipient_id,
                moment=notice.moment,
                title=notice.title,
                body=notice.text,
                link=notice.link,
                issue_id=notice.data.get("issue_id"),
                created_at=utcnow(),
            )
        )
