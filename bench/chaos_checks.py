"""The checks once the load has stopped: availability, every 202 stored once, the mail, the analytics."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from pymongo import AsyncMongoClient

from bench.chaos_ledger import Attempt, Ledger, Report
from bench.chaos_load import Load, Person
from bench.chaos_observe import caught_up, issue_events, mail_summary
from bench.chaos_settings import (
    AVAILABILITY_TARGET,
    CATEGORIES,
    DRAIN_S,
    MEASURES,
    SUBJECTS,
    log,
)
from bench.chaos_stack import LocalStack
from tests.analytics_history import expected as expected_from_events


def share(attempts: list[Attempt]) -> float | None:
    return round(sum(1 for a in attempts if 0 < a.status < 500) / len(attempts), 5) if attempts else None


async def check(load: Load, stack: LocalStack, ledger: Ledger, started_at: datetime, mail_since: int) -> dict[str, Any]:
    env = os.environ
    bootstrap, mongo_url = env["SNAPFIX_KAFKA_BOOTSTRAP_SERVERS"], env["SNAPFIX_MONGO_URL"]
    misses: list[str] = []
    figures: dict[str, Any] = {"availability": _availability(ledger, misses)}
    figures["consumer_lag_at_check"] = await _drained(bootstrap, misses)
    # -- every 202 stored exactly once, read back through the API (as the administrator) and in the store
    assert load.admin is not None
    reads = ReadBack(load.admin, ledger)
    await reads.all(ledger.reports.values())
    stored = await Stored.read(mongo_url, ledger.run)
    figures["reports"], everything = await _reports(load, ledger, reads, stored, misses)
    figures["comments"] = _comments(ledger, reads.details, stored.comment_bodies, misses)
    figures["votes"] = _votes(ledger, reads.details, misses)
    figures["transitions"] = _transitions(ledger, reads.details, misses)
    figures["photos"] = _photos(ledger, reads.details, stored.media, misses)
    expected = _expected_mail(load, everything, reads.details)
    figures["notifications"] = await _notifications(stack, ledger.run, expected, mail_since, misses)
    truth = _truth(everything, reads.details)
    figures["analytics"] = await _analytics(load.admin, bootstrap, started_at, everything, truth, misses)
    figures["accepted"] = dict(ledger.accepted)
    figures["unanswered_after_retries"] = dict(ledger.unanswered)
    figures["refused"] = dict(ledger.refused)
    figures["misses"] = misses
    return figures


# -- availability ---------------------------------------------------------------------------


def _availability(ledger: Ledger, misses: list[str]) -> dict[str, Any]:
    """Non-5xx answers outside the fault windows (against the target) and inside them; each window's own
    figures are added to it."""
    windows = [(w["start"], w["end"]) for w in ledger.windows]
    inside = [a for a in ledger.attempts if any(a.start < e and a.end > s for s, e in windows)]
    outside = [a for a in ledger.attempts if not any(a.start < e and a.end > s for s, e in windows)]
    availability = share(outside)
    figure = {
        "requests": len(ledger.attempts),
        "outside_windows": len(outside),
        "outside_non_5xx_share": availability,
        "outside_failures": Counter(f"{a.what} {a.status}" for a in outside if not 0 < a.status < 500),
        "outside_failures_at_s": [
            f"{a.start - ledger.t0:.1f} {a.what} {a.status}" for a in outside if not 0 < a.status < 500
        ][:40],
        "inside_windows": len(inside),
        "inside_non_5xx_share": share(inside),
        "statuses": Counter(str(a.status) for a in ledger.attempts),
    }
    if availability is None or availability < AVAILABILITY_TARGET:
        misses.append(f"availability outside the fault windows {availability} < {AVAILABILITY_TARGET}")
    for window in ledger.windows:
        during = [a for a in ledger.attempts if a.start < window["end"] and a.end > window["start"]]
        window["requests"] = len(during)
        window["non_5xx_share"] = share(during)
        window["no_answer_or_5xx"] = sum(1 for a in during if not 0 < a.status < 500)
    return figure


async def _drained(bootstrap: str, misses: list[str]) -> dict[str, int]:
    log("waiting for every consumer group to catch up ...")
    lags = await caught_up(bootstrap, DRAIN_S)
    if not lags or any(lags.values()):
        misses.append(f"consumer groups still lagging after {DRAIN_S:.0f} s: {lags}")
    return lags


# -- the stored state -------------------------------------------------------------------------


class ReadBack:
    """Reports read back through the API as the administrator: ``details`` by id, and those not readable."""

    def __init__(self, admin: httpx.AsyncClient, ledger: Ledger) -> None:
        self.admin, self.ledger = admin, ledger
        self.details: dict[str, dict[str, Any]] = {}
        self.missing: list[str] = []
        self.sem = asyncio.Semaphore(6)

    async def all(self, reports: Iterable[Report]) -> None:
        await asyncio.gather(*(self.one(r) for r in reports))

    async def one(self, report: Report) -> None:
        async with self.sem:
            for _ in range(30):  # the read model may trail the store by a moment after a fault
                response = await self.admin.get(f"/v1/issues/{report.id}")
                if response.status_code == 200:
                    body = response.json()
                    wanted = len(self.ledger.transitions.get(report.id, ()))
                    if len([h for h in body["history"] if h["note"].startswith("Chaos step")]) >= wanted:
                        self.details[report.id] = body
                        return
                await asyncio.sleep(1)
            if response.status_code == 200:
                self.details[report.id] = response.json()
            else:
                self.missing.append(f"{report.title} ({report.id}): GET {response.status_code}")


@dataclass
class Stored:
    """What the stores hold of this run: its reports, its comments' bodies (counted), every photo's status."""

    reports: list[dict[str, Any]]
    comment_bodies: Counter[str]
    media: dict[str, Any]

    @classmethod
    async def read(cls, mongo_url: str, run: str) -> Stored:
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, uuidRepresentation="standard")
        try:
            pattern = {"$regex": f"^Chaos {run} "}
            reports = [
                d
                async for d in mongo["snapfix_issues"]["reports"].find(
                    {"title": pattern}, {"title": 1, "category": 1, "reporter_id": 1}
                )
            ]
            comment_bodies = Counter(
                [
                    d["body"]
                    async for d in mongo["snapfix_issues"]["comments"].find(
                        {"body": {"$regex": f"^Chaos comment {run} "}}, {"body": 1}
                    )
                ]
            )
            media = (
                {str(d["_id"]): d.get("status") async for d in mongo["snapfix_media"]["media"].find({}, {"status": 1})}
                if "media" in await mongo["snapfix_media"].list_collection_names()
                else {}
            )
        finally:
            await mongo.close()
        return cls(reports, comment_bodies, media)


async def _reports(
    load: Load, ledger: Ledger, reads: ReadBack, stored: Stored, misses: list[str]
) -> tuple[dict[str, Any], list[Report]]:
    """Each accepted report stored once and readable; and every report of the run, with those stored
    though the client never saw their 202."""
    stored_titles = Counter(d["title"] for d in stored.reports)
    accepted_titles = {r.title for r in ledger.reports.values()}
    twice = {t: n for t, n in stored_titles.items() if n > 1}
    at = {r.title: round(r.at - ledger.t0, 1) for r in ledger.reports.values()}
    lost = [f"{t} (202 at {at[t]} s)" for t in sorted(accepted_titles - set(stored_titles))]
    # Stored though the client never saw its 202 (its last answer was a 5xx, a 409 or none): part of
    # the ground truth and of the expected notifications from here on, like every stored report.
    by_user_id = {p.user_id: p.index for p in load.citizens}
    unacknowledged = [
        Report(str(d["_id"]), d["title"], d["category"], by_user_id[d["reporter_id"]], [], 0.0)
        for d in stored.reports
        if d["title"] not in accepted_titles
    ]
    await reads.all(unacknowledged)
    figure = {
        "accepted": len(ledger.reports),
        "read_back": len(reads.details),
        "stored": sum(stored_titles.values()),
        "lost": lost[:20],
        "stored_twice": twice,
        "not_readable": reads.missing[:20],
        "stored_without_a_202_seen": len(unacknowledged),
        "their_last_answers": [ledger.last_answer.get(r.title, "?") for r in unacknowledged],
    }
    if lost or twice or reads.missing:
        misses.append(f"reports: {len(lost)} lost, {len(twice)} stored twice, {len(reads.missing)} not readable")
    return figure, [*ledger.reports.values(), *unacknowledged]


def _comments(
    ledger: Ledger, details: dict[str, dict[str, Any]], comment_bodies: Counter[str], misses: list[str]
) -> dict[str, Any]:
    """Each 202 once in its issue's list and once in the store."""
    comment_misses: list[str] = []
    for comment_id, (issue, _, text) in ledger.comments.items():
        listed = [c for c in details.get(issue, {}).get("comments", []) if c["id"] == comment_id]
        if len(listed) != 1 or comment_bodies[text] != 1:
            comment_misses.append(f"{comment_id}: listed {len(listed)}, stored {comment_bodies[text]}")
    if comment_misses:
        misses.append(f"comments: {len(comment_misses)} not stored exactly once")
    return {"accepted": len(ledger.comments), "misses": comment_misses[:20]}


def _votes(ledger: Ledger, details: dict[str, dict[str, Any]], misses: list[str]) -> dict[str, Any]:
    """The count equals the voters who got a 202 (each votes once per report)."""
    vote_misses = [
        f"{issue}: {details[issue]['votes']} counted, {len(voters)} voted"
        for issue, voters in ledger.votes.items()
        if issue in details and details[issue]["votes"] != len(voters)
    ]
    if vote_misses:
        misses.append(f"votes: {len(vote_misses)} reports with a wrong count")
    return {"accepted": sum(len(v) for v in ledger.votes.values()), "misses": vote_misses[:20]}


def _transitions(ledger: Ledger, details: dict[str, dict[str, Any]], misses: list[str]) -> dict[str, Any]:
    """Each 202 once in the history, in the order sent."""
    transition_misses: list[str] = []
    for issue, steps in ledger.transitions.items():
        history = [
            (h["to"], h["note"])
            for h in details.get(issue, {}).get("history", [])
            if h["note"].startswith("Chaos step")
        ]
        if history != steps:
            transition_misses.append(f"{issue}: history {history}, accepted {steps}")
    if transition_misses:
        misses.append(f"transitions: {len(transition_misses)} histories differ from the 202s")
    return {"accepted": sum(len(s) for s in ledger.transitions.values()), "misses": transition_misses[:20]}


def _photos(
    ledger: Ledger, details: dict[str, dict[str, Any]], media: dict[str, Any], misses: list[str]
) -> dict[str, Any]:
    """Each uploaded photo processed, and on its report."""
    photo_misses: list[str] = []
    attached = {m: r.id for r in ledger.reports.values() for m in r.media_ids}
    for media_id in ledger.photos:
        status = media.get(media_id)
        on_report = media_id in attached and media_id in [
            str(m) for m in details.get(attached[media_id], {}).get("media_ids", [])
        ]
        if status != "processed" or (media_id in attached and not on_report):
            photo_misses.append(f"{media_id}: {status}, on its report: {on_report}")
    if photo_misses:
        misses.append(f"photos: {len(photo_misses)} not processed or not on their report")
    return {"accepted": len(ledger.photos), "misses": photo_misses[:20]}


# -- notifications ------------------------------------------------------------------------------


def _expected_mail(
    load: Load, everything: list[Report], details: dict[str, dict[str, Any]]
) -> Counter[tuple[str, str]]:
    """(to, subject) -> how many emails the stored state calls for."""
    by_user = {p.user_id: p for p in load.citizens}
    expected: Counter[tuple[str, str]] = Counter()
    for person in [*load.citizens, *load.staff.values()]:
        expected[(person.email, "Confirm your email address for SnapFix")] += 1
    for report in everything:
        body = details.get(report.id)
        if body is not None:
            expected.update(_report_mail(report, body, load.citizens[report.reporter].email, by_user))
    return expected


def _report_mail(
    report: Report, body: dict[str, Any], email: str, by_user: dict[str, Person]
) -> Counter[tuple[str, str]]:
    """The reporter's emails about one report: received, each status the load moved it to, others' comments."""
    expected: Counter[tuple[str, str]] = Counter()
    expected[(email, SUBJECTS["report_received"].format(title=report.title))] += 1
    for entry in body["history"]:
        if entry["to"] in SUBJECTS and entry["note"].startswith("Chaos step"):
            expected[(email, SUBJECTS[entry["to"]].format(title=report.title))] += 1
    for comment in body["comments"]:
        author = by_user.get(comment["author_id"] or "")
        if author is not None and author.index != report.reporter and not comment["internal"]:
            expected[(email, SUBJECTS["comment_added"].format(title=report.title))] += 1
    return expected


async def _wait_for_mail(
    stack: LocalStack, mail_since: int, expected: Counter[tuple[str, str]]
) -> tuple[Counter[tuple[str, str]], dict[tuple[str, str], int]]:
    """Until every expected email came and the sink was quiet 5 s, or quiet 60 s, or DRAIN_S passed:
    (to, subject) -> messages received, and -> distinct Message-IDs."""
    log("waiting for the mail to arrive ...")
    deadline = time.monotonic() + DRAIN_S
    quiet_since, last = time.monotonic(), -1
    while True:
        total, ids = mail_summary(stack.mail, mail_since)
        distinct = {k: len(v) for k, v in ids.items()}
        short = sum(max(0, n - distinct.get(k, 0)) for k, n in expected.items())
        received = sum(total.values())
        if received != last:
            quiet_since, last = time.monotonic(), received
        if (
            (short == 0 and time.monotonic() - quiet_since > 5)
            or time.monotonic() - quiet_since > 60
            or time.monotonic() > deadline
        ):
            return total, distinct
        await asyncio.sleep(1)


async def _notifications(
    stack: LocalStack, run: str, expected: Counter[tuple[str, str]], mail_since: int, misses: list[str]
) -> dict[str, Any]:
    """The emails the stored state calls for, against what the SMTP sink received."""
    total, distinct = await _wait_for_mail(stack, mail_since, expected)
    ours = {k for k in total if k[0].startswith(f"chaos-{run}-")}
    duplicates = sum(total[k] - distinct[k] for k in total)
    unexpected = {
        f"{k[0]} | {k[1]}": distinct[k] - expected.get(k, 0) for k in ours if distinct[k] > expected.get(k, 0)
    }
    missing = {f"{k[0]} | {k[1]}": n - distinct.get(k, 0) for k, n in expected.items() if n > distinct.get(k, 0)}
    if missing:
        misses.append(f"notifications: {sum(missing.values())} expected emails not sent")
    if duplicates > stack.kills:
        misses.append(f"notifications: {duplicates} duplicates > {stack.kills} kills")
    if unexpected:
        misses.append(
            f"notifications: {sum(unexpected.values())} emails beyond the expected (not deduplicable by Message-ID)"
        )
    return {
        "expected": sum(expected.values()),
        "sent_distinct": sum(min(n, distinct.get(k, 0)) for k, n in expected.items()),
        "missing": sum(missing.values()),
        "missing_examples": dict(list(missing.items())[:10]),
        "received": sum(total.values()),
        "duplicates_same_message_id": duplicates,
        "kills": stack.kills,
        "unexpected_distinct": sum(unexpected.values()),
        "unexpected_examples": dict(list(unexpected.items())[:10]),
    }


# -- analytics ----------------------------------------------------------------------------------


def _truth(everything: list[Report], details: dict[str, dict[str, Any]]) -> dict[str, Counter[str]]:
    """Category -> measure -> count, from the stored reports as read back."""
    truth: dict[str, Counter[str]] = {c: Counter() for c in CATEGORIES}
    for report in everything:
        body = details.get(report.id)
        if body is None:
            continue
        truth[report.category]["reported"] += 1
        for entry in body["history"]:
            if entry["to"] in MEASURES:
                truth[report.category][entry["to"]] += 1
    return truth


async def _service_counts(
    admin: httpx.AsyncClient, started_at: datetime, truth: dict[str, Counter[str]]
) -> dict[str, dict[str, int]]:
    """The analytics service's counts per category since the run began, asked again (a later end each
    time) until they equal the truth, ten times at most."""
    begin = started_at.replace(second=0, microsecond=0)
    end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=2)
    service: dict[str, dict[str, int]] = {}
    for attempt in range(10):
        for category in CATEGORIES:
            params = {
                "category": category,
                "from": begin.isoformat(),
                "to": (end + timedelta(minutes=attempt)).isoformat(),
            }
            response = await admin.get("/v1/analytics/summary", params=params)
            service[category] = (
                response.json().get("counts", {}) if response.status_code == 200 else {"status": response.status_code}
            )
        if all(service[c].get(m, 0) == truth[c][m] for c in CATEGORIES for m in MEASURES):
            break
        await asyncio.sleep(3)
    return service


async def _analytics(
    admin: httpx.AsyncClient,
    bootstrap: str,
    started_at: datetime,
    everything: list[Report],
    truth: dict[str, Counter[str]],
    misses: list[str],
) -> dict[str, Any]:
    """The service's counts against the stored reports and against the event log counted plainly."""
    events, repeats = await issue_events(bootstrap)
    our_issues = {UUID(report.id) for report in everything}
    plain = expected_from_events([e for e in events if getattr(e, "issue_id", None) in our_issues])
    from_log = {c: plain.total(c) for c in CATEGORIES}
    service = await _service_counts(admin, started_at, truth)
    analytics_rows = {
        c: {m: {"truth": truth[c][m], "event_log": from_log[c][m], "analytics": service[c].get(m)} for m in MEASURES}
        for c in CATEGORIES
    }
    wrong = [
        f"{c}.{m}"
        for c, row in analytics_rows.items()
        for m, v in row.items()
        if not v["truth"] == v["event_log"] == v["analytics"]
    ]
    if wrong:
        misses.append(f"analytics: {len(wrong)} counts differ from the ground truth ({', '.join(wrong[:6])})")
    return {"by_category": analytics_rows, "event_repeats_same_id": repeats, "differences": wrong}
