"""The analytics query API's response bodies (``api.py``).

The routes serve these as JSON bytes computed once and kept in Redis (``cache``), so FastAPI
never validates them on the way out: the models document the bodies, and the API's tests
check the bodies served against them. The gateway relays them unread: they are declared once
in ``snapfix_shared.schemas.analytics``, for this service's document and the gateway's alike.
"""

from __future__ import annotations

from snapfix_shared.schemas.analytics import HeatCell, Heatmap, LateCounts, Point, Summary, TimeSeries

__all__ = ["HeatCell", "Heatmap", "LateCounts", "Point", "Summary", "TimeSeries"]
