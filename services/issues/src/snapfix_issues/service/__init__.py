"""The issues service layer, called by the subscribers (``consumers.py``) and the routes (``api/``):
``commands`` (what an issue command does to the store, the cache and the read model), ``photos``
(the projection of what became of reports' photos), ``users`` (a deleted account's erasure) and
``reads`` (one issue from the read model, else the store, and what the routes read about it),
``listings`` (the list reads: the read model, else the store's fallback queries); ``rebuild`` keeps
the read model present; ``checks`` answers the gateway's check of a command.

The routes name the store's and the read model's types and errors through this package (never
``repository`` or ``readmodel`` themselves: the layers contract in pyproject.toml says so)."""

from snapfix_issues.readmodel import ReadModel, ReadModelDown
from snapfix_issues.repository import ReportRepository, StoreError
from snapfix_issues.service import listings, reads
from snapfix_issues.service.checks import refusal
from snapfix_issues.service.commands import CatalogueHooks, IssueCommands, Known, Outcome, Refused
from snapfix_issues.service.photos import IssuePhotos
from snapfix_issues.service.reads import load_issue
from snapfix_issues.service.rebuild import ReadModelKeeper
from snapfix_issues.service.users import UserErasure

__all__ = [
    "CatalogueHooks",
    "IssueCommands",
    "IssuePhotos",
    "Known",
    "Outcome",
    "ReadModel",
    "ReadModelDown",
    "ReadModelKeeper",
    "Refused",
    "ReportRepository",
    "StoreError",
    "UserErasure",
    "listings",
    "load_issue",
    "reads",
    "refusal",
]
