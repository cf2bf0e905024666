"""``snapfix export``: reports as CSV or GeoJSON, filtered by creation date and category, streamed.

The issues service's store is read with one cursor (its ``category, created_at`` and
``created_at`` indexes), a batch at a time, and each report is written as it comes: the
export is never held whole. Only what the public may see of a report is exported (as its
Open311 form, ``snapfix_issues.views.public_record``): never the reporter or their contact.
"""

from __future__ import annotations

import contextlib
import csv
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import orjson
import typer

from snapfix_cli.support import err_console, fail, guarded, progress, run
from snapfix_shared.mongo import init_documents, mongo_client

if TYPE_CHECKING:  # the issues service's modules are imported when the command runs (snapfix starts faster)
    from snapfix_issues.domain import IssueRecord

app = typer.Typer(help="Exports for integrators: reports as CSV or GeoJSON.", no_args_is_help=True)

BATCH = 500
# The columns of the CSV, in order (a report's public record, flattened).
COLUMNS = (
    "id",
    "title",
    "description",
    "category",
    "status",
    "lat",
    "lon",
    "address",
    "address_id",
    "department",
    "created_at",
    "updated_at",
    "due_at",
    "resolved_at",
    "media_ids",
    "media_url",
)
# Text the public typed: a spreadsheet would run a cell starting like a formula (CSV injection),
# so such a cell gets a leading apostrophe (OWASP's advice); ids, numbers and times never need it.
FREE_TEXT = frozenset({"title", "description", "address", "address_id", "media_url"})
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# What a GeoJSON feature's properties leave out: the position is its geometry.
NOT_PROPERTIES = frozenset({"lat", "lon", "history"})


class Format(StrEnum):
    csv = "csv"
    geojson = "geojson"


def parse_bound(value: str | None, *, end: bool) -> datetime | None:
    """A date (``2026-01-31``: the whole day, for an end) or an ISO 8601 instant (UTC if no offset)."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime.combine(day, time(), tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        instant = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{value!r} is not a date: use YYYY-MM-DD or an ISO 8601 time such as 2026-01-31T18:00:00Z"
        ) from exc
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def query_of(since: datetime | None, until: datetime | None, categories: Iterable[str]) -> dict[str, Any]:
    """Reports created in ``[since, until)`` in one of ``categories`` (any, when none is given)."""
    query: dict[str, Any] = {}
    codes = list(dict.fromkeys(categories))
    if codes:
        query["category"] = codes[0] if len(codes) == 1 else {"$in": codes}
    created: dict[str, datetime] = {}
    if since is not None:
        created["$gte"] = since
    if until is not None:
        created["$lt"] = until
    if created:
        query["created_at"] = created
    return query


def csv_row(issue: IssueRecord) -> list[str]:
    from snapfix_issues.views import public_record

    record = public_record(issue)
    row = []
    for column in COLUMNS:
        value = record.get(column)
        if isinstance(value, list):
            value = " ".join(map(str, value))
        text = "" if value is None else str(value)
        row.append("'" + text if column in FREE_TEXT and text.startswith(FORMULA_START) else text)
    return row


def feature(issue: IssueRecord) -> dict[str, Any]:
    """A GeoJSON Feature (RFC 7946): a Point at [longitude, latitude], the public record as properties."""
    from snapfix_issues.views import public_record

    record = public_record(issue)
    properties = {k: v for k, v in record.items() if k not in NOT_PROPERTIES}
    return {
        "type": "Feature",
        "id": record["id"],
        "geometry": {"type": "Point", "coordinates": [issue.lon, issue.lat]},
        "properties": properties,
    }


async def write_csv(issues: AsyncIterator[IssueRecord], out: IO[str], progress: Any = None) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    async for issue in issues:
        writer.writerow(csv_row(issue))
        count += 1
        if progress is not None:
            progress()
    return count


async def write_geojson(issues: AsyncIterator[IssueRecord], out: IO[str], progress: Any = None) -> int:
    out.write('{"type":"FeatureCollection","features":[')
    count = 0
    async for issue in issues:
        out.write(("," if count else "\n") + orjson.dumps(feature(issue)).decode() + "\n")
        count += 1
        if progress is not None:
            progress()
    out.write("]}\n")
    return count


async def known_categories() -> set[str]:
    """The catalogue's codes (as stored by the issues service), and those it ships with."""
    from snapfix_issues.catalogue import seed_categories
    from snapfix_issues.repository import CategoryRepository

    return {c.code for c in await CategoryRepository().all()} | {c.code for c in seed_categories()}


async def stream_reports(query: dict[str, Any]) -> AsyncIterator[IssueRecord]:
    """Every report matching ``query``, oldest first, one batch in memory at a time."""
    from snapfix_issues.domain import IssueRecord
    from snapfix_issues.models import Report

    cursor = (
        Report.get_pymongo_collection()
        .find(query, {"events": 0, "applied_commands": 0}, batch_size=BATCH)
        .sort([("created_at", 1), ("_id", 1)])
    )
    async for doc in cursor:
        yield IssueRecord.model_validate({"id": doc["_id"], **doc})


async def _export(
    fmt: Format, since: datetime | None, until: datetime | None, categories: list[str], output: Path | None
) -> None:
    from snapfix_issues.config import IssuesSettings
    from snapfix_issues.models import Category, Report

    settings = IssuesSettings()
    client = mongo_client(settings, app_name="snapfix-cli")
    try:
        await init_documents(client, settings.mongo_database, [Report, Category])
        unknown = sorted(set(categories) - await known_categories())
        if unknown:
            fail(f"unknown category {', '.join(unknown)}: nothing was written (the codes are in GET /v1/categories).")
        query = query_of(since, until, categories)
        total = await Report.get_pymongo_collection().count_documents(query)
        write = write_csv if fmt is Format.csv else write_geojson
        if output is None:
            await write(stream_reports(query), sys.stdout)
            return
        # Written next to the target and renamed at the end: a failed export leaves no partial file.
        handle, partial = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out, progress() as bar:
                task = bar.add_task("exporting reports", total=total)
                count = await write(stream_reports(query), out, lambda: bar.advance(task))
            os.replace(partial, output)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial)
            raise
        err_console.print(f"{count} report(s) written to {output}")
    finally:
        await client.close()


@app.command()
@guarded
def issues(
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="csv (a header row, then one row per report) or geojson")
    ],
    since: Annotated[
        str | None, typer.Option(help="Created at or after this (YYYY-MM-DD, or an ISO 8601 time; UTC)")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Created before this (a date includes that whole day; a time is exclusive)")
    ] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="Only this category code (repeat the option for several)")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file (default: standard output)", dir_okay=False),
    ] = None,
) -> None:
    """Export reports created in a period, in some categories, as CSV or GeoJSON (oldest first).

    Reads the issues service's store (SNAPFIX_MONGO_URL) and streams, so any number of reports
    fits. Only public fields are exported, never the reporter. GeoJSON is a FeatureCollection of
    Points (coordinates: longitude, then latitude). A bad date or an unknown category writes nothing.

    Example: snapfix export issues --format csv --since 2026-01-01 --until 2026-01-31 --category pothole -o jan.csv
    """
    start, end = parse_bound(since, end=False), parse_bound(until, end=True)
    if start is not None and end is not None and start >= end:
        raise typer.BadParameter(f"--since ({since}) must come before --until ({until})")
    if output is not None and not output.parent.is_dir():
        raise typer.BadParameter(f"{output.parent} is not a directory", param_hint="--output")
    run(_export(fmt, start, end, list(category or []), output))
