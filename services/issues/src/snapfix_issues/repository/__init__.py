"""The only place with queries on the issues service's collections (with ``models.py``, the only
modules importing pymongo or beanie).

Portable subset only (DESIGN §6). Ids of reports and comments are stored as strings (and
so are the issue ids that votes, follows and comments name): the embedded FerretDB hands
an equality on a string to its PostgreSQL backend's index, never one on a binary UUID.
``$in`` on ``_id`` is a full scan there, so nothing here reads many ids at once; the hot
lists come from the read model (``readmodel.py``), these queries are its fallback.
"""

from snapfix_issues.repository.categories import CategoryRepository
from snapfix_issues.repository.photos import PhotoRepository
from snapfix_issues.repository.queries import MAX_CANDIDATES, ReportQueries
from snapfix_issues.repository.reports import (
    DUPLICATE_KEY,
    Reports,
    ReportWrites,
    StoreError,
    participation_id,
    report_document,
)
from snapfix_issues.repository.users import UserData


class ReportRepository(UserData, ReportQueries):
    """Reports, comments, votes, follows and refused reports: the command side (``reports``), a
    user's data (``users``) and the read model's fallback queries (``queries``)."""


__all__ = [
    "DUPLICATE_KEY",
    "MAX_CANDIDATES",
    "CategoryRepository",
    "PhotoRepository",
    "ReportQueries",
    "ReportRepository",
    "ReportWrites",
    "Reports",
    "StoreError",
    "UserData",
    "participation_id",
    "report_document",
]
