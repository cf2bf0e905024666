"""The dashboard queries the API answers: reads through the repository, arithmetic in ``queries``.

Each answer is the JSON body as bytes (the API caches and serves those bytes); a query that
would read more than ``limit`` windows is a 422 naming ``from``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import orjson
import pygeohash

from snapfix_analytics.queries import COUNT_MEASURES, BBox, Measure, Period, Totals, in_box, invalid
from snapfix_analytics.repository import AnalyticsRepository
from snapfix_analytics.schemas import LateCounts
from snapfix_analytics.windows import WINDOWS
from snapfix_shared.messages.analytics import WindowSize
from snapfix_shared.messages.base import utcnow

CSV_COLUMNS = ["window", "window_start", "window_end", "geohash5", "category", *COUNT_MEASURES]
CSV_COLUMNS += [f"{family}_{q}" for family in ("tta", "ttr") for q in ("count", "p50_s", "p90_s", "p99_s")]


class Dashboard:
    def __init__(self, repo: AnalyticsRepository, *, max_windows: int) -> None:
        self.repo, self.limit = repo, max_windows

    async def _windows(
        self, *, size: WindowSize, period: Period, prefix: str | None, category: str | None, what: str
    ) -> AsyncIterator[dict[str, Any]]:
        read = 0
        async for doc in self.repo.windows(
            size=size, start=period.start, end=period.end, area=prefix, category=category
        ):
            read += 1
            if read > self.limit:
                raise invalid("from", f"the query reads more than {self.limit} windows: narrow the period or {what}")
            yield doc

    async def summary(
        self, *, area: str | None, box: BBox | None, bbox: str | None, category: str | None, period: Period
    ) -> bytes:
        size = period.resolution()
        prefix = area or (box.prefix() if box else None)
        totals = Totals()
        async for doc in self._windows(size=size, period=period, prefix=prefix, category=category, what="the area"):
            if box is None or box.contains_cell(doc["geohash5"]):
                totals.add(doc)
        tta, ttr = totals.distributions()
        backlog = sum(d["open"] for d in in_box(await self.repo.gauges("backlog", area=prefix, category=category), box))
        late: dict[str, dict[str, int]] = {size: {} for size in WINDOWS}
        for gauge in in_box(await self.repo.gauges("late", area=prefix, category=category), box):
            for name, value in (gauge.get("counts") or {}).items():
                late[gauge["size"]][name] = late[gauge["size"]].get(name, 0) + int(value)
        body = {
            "area": area,
            "bbox": bbox,
            "category": category,
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "resolution": size,
            "counts": {m: totals.counts.get(m, 0) for m in COUNT_MEASURES},
            "time_to_acknowledge": tta.model_dump(),
            "time_to_resolve": ttr.model_dump(),
            "open_backlog": backlog,
            "overdue_open": await self.repo.overdue_open(now=utcnow(), area=prefix, category=category)
            if box is None
            else None,
            "late": late,
        }
        return _json(body)

    async def timeseries(
        self,
        *,
        window: WindowSize,
        measure: Measure,
        area: str | None,
        box: BBox | None,
        category: str | None,
        period: Period,
    ) -> bytes:
        buckets: dict[datetime, Totals] = {}
        prefix = area or (box.prefix() if box else None)
        async for doc in self._windows(size=window, period=period, prefix=prefix, category=category, what="the area"):
            if box is None or box.contains_cell(doc["geohash5"]):
                buckets.setdefault(doc["start"], Totals()).add(doc)
        points = [{"start": at.isoformat(), "value": t.value(measure)} for at, t in sorted(buckets.items())]
        return _json({"window": window, "measure": measure, "points": points})

    async def heatmap(
        self, *, box: BBox, measure: Measure, precision: int, category: str | None, period: Period
    ) -> bytes:
        cells: dict[str, Totals] = {}
        async for doc in self._windows(
            size=period.resolution(), period=period, prefix=box.prefix(), category=category, what="the box"
        ):
            if box.contains_cell(doc["geohash5"]):
                cells.setdefault(doc["geohash5"][:precision], Totals()).add(doc)
        out = []
        for cell, totals in sorted(cells.items()):
            lat, lon = pygeohash.decode(cell)
            out.append({"geohash": cell, "lat": lat, "lon": lon, "value": totals.value(measure)})
        return _json({"measure": measure, "precision": precision, "cells": out})

    async def export_rows(
        self, *, window: WindowSize, area: str | None, category: str | None, period: Period
    ) -> AsyncIterator[bytes]:
        """The CSV lines, header first, written while the windows are read (no window limit)."""
        yield _csv_line(CSV_COLUMNS)
        async for doc in self.repo.windows(
            size=window, start=period.start, end=period.end, area=area, category=category
        ):
            totals = Totals()
            totals.add(doc)
            tta, ttr = totals.distributions()
            yield _csv_line(
                [
                    doc["size"],
                    doc["start"].isoformat(),
                    doc["end"].isoformat(),
                    doc["geohash5"],
                    doc["category"],
                    *(totals.counts.get(m, 0) for m in COUNT_MEASURES),
                    *(getattr(d, f) for d in (tta, ttr) for f in ("count", "p50_s", "p90_s", "p99_s")),
                ]
            )

    async def late(self, *, area: str | None, category: str | None) -> list[LateCounts]:
        docs = await self.repo.gauges("late", area=area, category=category)
        return [
            LateCounts(window=d["size"], geohash5=d["geohash5"], category=d["category"], counts=d.get("counts", {}))
            for d in docs
        ]


def _json(body: Any) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)


def _csv_line(values: list[Any]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerow(["" if v is None else v for v in values])
    return out.getvalue().encode()
