"""The analytics service layer: ``counting`` (a batch of issue events counted exactly once, for
``consumers``) and ``dashboard`` (the query orchestration, for ``api``)."""

from snapfix_analytics.service.counting import DeadLetter, IssueEvents, Publish
from snapfix_analytics.service.dashboard import Dashboard

__all__ = ["Dashboard", "DeadLetter", "IssueEvents", "Publish"]
