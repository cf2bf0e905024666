"""Conditional GETs (RFC 9110 §13.1.2): does a request's ``If-None-Match`` name the current entity tag?"""

from __future__ import annotations


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison, as a GET's If-None-Match asks: ``W/"x"`` matches ``"x"``; ``*`` matches any tag."""
    if not if_none_match:
        return False
    candidates = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return etag.removeprefix("W/") in candidates or "*" in candidates
