"""The gateway's synchronous check of a command (``POST /v1/commands/check``): would the consumer
accept it now? The same rules (``rules.py``) on the issue as the read model (else the store) has
it, and the photos a report or its reporter's edit names, checked once with the media service."""

from __future__ import annotations

from snapfix_issues import rules
from snapfix_issues.cache import IssueCache
from snapfix_issues.catalogue import Catalogue
from snapfix_issues.domain import IssueRecord
from snapfix_issues.photos import check_photos
from snapfix_issues.repository import ReportRepository
from snapfix_issues.rules import Rejection
from snapfix_issues.service.reads import load_issue
from snapfix_shared.http_client import Upstream
from snapfix_shared.messages import ChangeIssueStatus, EditIssue, IssueCommand, ReportIssue
from snapfix_shared.viewer import InternalTokens


async def refusal(
    command: IssueCommand,
    *,
    repo: ReportRepository,
    cache: IssueCache,
    catalogue: Catalogue,
    media: Upstream,
    tokens: InternalTokens,
    request_id: str,
) -> Rejection | None:
    """Why the consumer would refuse ``command`` now, or None: it would be accepted.

    Photos a report (or the reporter's edit) names must exist, belong to the reporter and not
    have been rejected.
    """
    issue: IssueRecord | None = None
    original_exists = False
    if command.type != "ReportIssue":  # a report is checked against the in-memory catalogue only
        entry = await load_issue(command.issue_id, repo, cache)
        issue = entry.issue if entry else None
        if isinstance(command, ChangeIssueStatus) and command.duplicate_of not in {None, command.issue_id}:
            assert command.duplicate_of is not None
            original_exists = await load_issue(command.duplicate_of, repo, cache) is not None
    verdict = rules.decide(issue, command, catalogue=catalogue, original_exists=original_exists)
    if isinstance(verdict, Rejection):
        return verdict
    media_ids = command.media_ids if isinstance(command, (ReportIssue, EditIssue)) else None
    if media_ids:
        errors = await check_photos(media, media_ids, actor_id=command.actor_id, request_id=request_id, tokens=tokens)
        if errors:
            return Rejection(422, "The report names photos it cannot use.", tuple(errors))
    return None
