"""The issues service layer, called by the subscribers (``consumers.py``) and the routes (``api.py``):
``commands`` (what an issue command does to the store, the cache and the read model)."""

from snapfix_issues.service.commands import CatalogueHooks, IssueCommands, Known, Outcome, Refused

__all__ = ["CatalogueHooks", "IssueCommands", "Known", "Outcome", "Refused"]
