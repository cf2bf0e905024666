"""The issues service layer, called by the subscribers (``consumers.py``) and the routes (``api/``):
``commands`` (what an issue command does to the store, the cache and the read model), ``photos``
(the projection of what became of reports' photos), ``users`` (a deleted account's erasure) and
``reads`` (one issue from the read model, else the store); ``rebuild`` keeps the read model present;
``checks`` answers the gateway's check of a command."""

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
    "ReadModelKeeper",
    "Refused",
    "UserErasure",
    "load_issue",
    "refusal",
]
