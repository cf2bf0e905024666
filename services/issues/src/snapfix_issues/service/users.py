"""What a deleted account leaves here (``UserDeleted`` on ``users.events.v1``; ``consumers.py`` subscribes).

On ``UserDeleted`` the user's reports stay public but lose their reporter (``reporter_id``, the
Open311 contact, device and account ids; marked anonymous), their comments keep their text but
lose their author, and their votes and follows are removed (the issues' counts are taken again).
The read model (each report's row, the user's own lists, each issue's followers) and the issue
cache follow the store.

Idempotent, and safe to interrupt anywhere: each step finds its work by the user id in what a
later step removes (the reports also by the user's list in the read model, which goes last; the
votes and follows are first withdrawn, counted, then deleted), so a redelivery after a crash
finishes the job and one after success finds nothing to do. The batch is committed only after
every effect is stored; other user events are none of this consumer's business.
"""

from __future__ import annotations

import logging
from uuid import UUID

from snapfix_issues.cache import IssueCache
from snapfix_issues.readmodel import ReadModel
from snapfix_issues.repository import ReportRepository
from snapfix_shared.messages import UserDeleted, UserEvent

log = logging.getLogger(__name__)


class UserErasure:
    def __init__(self, repo: ReportRepository, cache: IssueCache, readmodel: ReadModel) -> None:
        self.repo, self.cache, self.readmodel = repo, cache, readmodel

    async def erase(self, event: UserEvent) -> None:
        """Anonymise or remove everything of a deleted user here (idempotent)."""
        if not isinstance(event, UserDeleted):  # the only type followed
            return
        user_id = str(event.user_id)
        async with self.readmodel.writing:  # never interleaved with a rebuild in this process
            touched: set[str] = set()
            reports = sorted(set(await self.repo.reports_of(user_id)) | set(await self.readmodel.reported_by(user_id)))
            await self.repo.anonymise_reports(user_id, reports)
            touched.update(reports)
            await self.repo.anonymise_rejections(user_id)
            touched.update(await self.repo.anonymise_comments(user_id))
            for kind in ("vote", "follow"):
                issues = await self.repo.participations_of(kind, user_id)
                await self.repo.withdraw_participations(kind, user_id)
                for issue_id in issues:
                    await self.repo.recount(kind, UUID(issue_id))
                if kind == "follow":
                    await self.readmodel.follows([(UUID(i), user_id, False, 0) for i in issues])
                touched.update(issues)
                await self.repo.forget_participations(kind, user_id)
            stored = [r for r in [await self.repo.get(UUID(i)) for i in sorted(touched)] if r is not None]
            await self.readmodel.index(stored)
            await self.cache.invalidate(UUID(i) for i in sorted(touched))
            await self.readmodel.forget_user(user_id)
        log.info("user %s erased: %d reports anonymised, %d issues touched", user_id, len(reports), len(touched))
