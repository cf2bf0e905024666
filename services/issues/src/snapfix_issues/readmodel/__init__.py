"""The issues service's list read model in its Redis: nearby, viewport, cells, queues, per-user lists.

``layout`` names its keys and rows, ``geometry`` computes its searches (both pure), ``store``
reads and writes it (``ReadModel``); ``service.rebuild`` rebuilds it from the store when Redis has none.
Whole issues for detail reads are entries of ``cache.py``.
"""

from snapfix_issues.readmodel.geometry import Stream, cell_bounds, cell_index, cell_score, cells_in_box
from snapfix_issues.readmodel.layout import (
    BUILT,
    NO_DUE,
    PREFIX,
    PRIORITY_BAND,
    SUMMARY,
    following_key,
    geo_keys,
    queue_created_key,
    queue_key,
    reporter_key,
    row_of,
)
from snapfix_issues.readmodel.store import ReadModel, ReadModelDown, run_batched

__all__ = [
    "BUILT",
    "NO_DUE",
    "PREFIX",
    "PRIORITY_BAND",
    "SUMMARY",
    "ReadModel",
    "ReadModelDown",
    "Stream",
    "cell_bounds",
    "cell_index",
    "cell_score",
    "cells_in_box",
    "following_key",
    "geo_keys",
    "queue_created_key",
    "queue_key",
    "reporter_key",
    "row_of",
    "run_batched",
]
