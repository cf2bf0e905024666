"""The seeding: the catalogue and accounts, then every report's chain, sending only what is missing."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .api import Account, Api, _check, demo_password
from .data import APPLY_S, CATEGORIES, DOMAIN, KEY_PREFIX, NOTES, REJECT_REASONS, DemoError
from .photos import draw_photo
from .plan import Plan, PlannedReport, _next_step, _steps_done, accounts_for, load_wards, make_plan
from .run import Options, People, Summary, _all, _reached, _second


class Demo:
    def __init__(self, options: Options, api: Api, progress: Progress) -> None:
        self.o, self.api, self.progress = options, api, progress
        self.summary = Summary()
        self.admin = Account(options.admin_email, "Administrator", "admin", password=options.admin_password)
        self.catalogue: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, Any] = {}

    def account(self, local: str, name: str, role: str, departments: Iterable[str] = ()) -> Account:
        email = f"{local}@{DOMAIN}"
        return Account(email, name, role, tuple(departments), password=demo_password(self.o.admin_password, email))

    # -- set-up ---------------------------------------------------------------------------

    async def ensure_catalogue(self) -> None:
        live = {c["code"]: c for c in await self._categories()}
        missing = [c for c in CATEGORIES if c["code"] not in live]
        for spec in missing:
            body = {k: spec[k] for k in ("name", "group", "department", "sla_hours")}
            body["description"] = f"{spec['name']} (created by the SnapFix demo)"
            response = await self.api.send("PUT", f"/v1/categories/{spec['code']}", account=self.admin, json=body)
            _check(response, 200, 201)
            self.summary.categories_created += response.status_code == 201
        self.catalogue = {c["code"]: c for c in await self._categories()} if missing else live

    async def _categories(self) -> list[dict[str, Any]]:
        response = _check(await self.api.send("GET", "/v1/categories", account=self.admin), 200)
        return list(response.json()["items"])

    async def ensure_accounts(self, accounts: Sequence[Account]) -> None:
        existing: set[str] = set()
        cursor: str | None = None
        while True:
            params = {"q": "demo-", "limit": "100", **({"cursor": cursor} if cursor else {})}
            page = _check(await self.api.send("GET", "/v1/admin/users", account=self.admin, params=params), 200).json()
            existing |= {item["email"] for item in page["items"]}
            cursor = page.get("next_cursor")
            if not cursor:
                break
        for account in accounts:
            if account.email in existing:
                continue
            body = {
                "email": account.email,
                "password": account.password,
                "display_name": account.display_name,
                "role": account.role,
                "departments": list(account.departments),
            }
            for attempt in range(20):  # new departments reach the gateway's catalogue copy moments later
                response = await self.api.send("POST", "/v1/admin/users", account=self.admin, json=body)
                if response.status_code != 422 or attempt == 19:
                    break
                await asyncio.sleep(0.5)
            _check(response, 201, 409)
            self.summary.accounts_created += response.status_code == 201

    # -- reading what exists --------------------------------------------------------------

    async def list_reports(self, importer: Account) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
            page = _check(await self.api.send("GET", "/v1/me/issues", account=importer, params=params), 200).json()
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    async def stored(self, plan: Plan, importers: Sequence[Account]) -> dict[int, dict[str, Any]]:
        """The plan's reports that exist, by plan index (matched on the importer and the report time)."""
        lists = await asyncio.gather(*(self.list_reports(a) for a in importers))
        by_key = [{_second(item["created_at"]): item for item in items} for items in lists]
        return {r.index: by_key[r.importer][r.key] for r in plan.reports if r.key in by_key[r.importer]}

    # -- writing --------------------------------------------------------------------------

    async def report(self, planned: PlannedReport, importer: Account) -> str:
        media_ids: list[str] = []
        if planned.photo:
            media_ids.append(await self.upload(planned, importer))
        body = {
            "title": planned.title,
            "description": planned.description,
            "category": planned.category,
            "lat": planned.lat,
            "lon": planned.lon,
            "address": planned.address,
            "attributes": planned.attributes,
            "media_ids": media_ids,
            "reported_at": planned.reported_at.isoformat(),
        }
        key = f"{KEY_PREFIX}-{self.o.seed}-report-{planned.index}-{len(media_ids)}"
        response = await self.api.send("POST", "/v1/issues", account=importer, key=key, json=body)
        _check(response, 202)
        self.summary.reports_created += response.headers.get("idempotent-replayed") != "true"
        return str(response.json()["id"])

    async def upload(self, planned: PlannedReport, importer: Account) -> str:
        photo = await asyncio.to_thread(draw_photo, planned)
        ticket = await self.api.send(
            "POST", "/v1/media", account=importer, json={"content_type": "image/jpeg", "size": len(photo)}
        )
        ticket_body = _check(ticket, 201).json()
        # The URL is absolute (the gateway's public address): only its path and query are used here.
        url = httpx.URL(ticket_body["upload_url"])
        target = url.raw_path.decode()
        response = await self.api.send(
            "PUT", target, account=importer, content=photo, headers={"content-type": "application/octet-stream"}
        )
        _check(response, 202, 409)  # 409: uploaded already (a retry whose first try's answer was lost)
        self.summary.photos_uploaded += 1
        return str(ticket_body["id"])

    async def command(self, path: str, account: Account, key: str, body: dict[str, Any] | None = None) -> bool | None:
        """POST a command about an issue: True when accepted now, False when accepted before (a replay
        of its 202), None when its issue's state still refused it after ``wait_s``.

        A 404 (the report is not applied yet) or a 409 (the previous step is not applied yet) is a
        definite answer the gateway keeps for its key: the retry, moments later, carries a new key
        (the plan's, numbered), as any client does after a definite answer. A refusal replayed from
        an earlier run is no news about now: the next number is tried at once.
        """
        deadline = time.monotonic() + self.o.wait_s
        attempt = 0
        while True:
            numbered = key if attempt == 0 else f"{key}-retry{attempt}"
            attempt += 1
            response = await self.api.send("POST", path, account=account, key=numbered, json=body)
            replayed = response.headers.get("idempotent-replayed") == "true"
            if response.status_code == 202:
                return not replayed
            if response.status_code not in {404, 409}:
                _check(response, 202)
            if replayed:
                continue
            if time.monotonic() > deadline:
                self.summary.refused += 1
                detail = response.json().get("detail", response.text)
                self.progress.console.print(f"[yellow]demo: {path} still refused after {self.o.wait_s:.0f} s: {detail}")
                return None
            await asyncio.sleep(min(10.0, 2.0 * attempt))

    async def transition(self, issue_id: str, planned: PlannedReport, current: str, to: str, staff: Account) -> bool:
        """Move the issue one step; False when it could not (the later steps are then left out)."""
        rng = random.Random(f"note-{planned.index}-{to}")  # noqa: S311 - reproducible notes
        body: dict[str, Any] = {"to": to, "note": rng.choice(NOTES.get(to, [""]))}
        if to == "rejected":
            body["reason"] = rng.choice(REJECT_REASONS)
        key = f"{KEY_PREFIX}-{self.o.seed}-status-{planned.index}-{current}-{to}"
        accepted = await self.command(f"/v1/issues/{issue_id}/transitions", staff, key, body)
        self.summary.transitions += accepted is True
        return accepted is not None

    async def vote(self, issue_id: str, planned: PlannedReport, voter: int, citizen: Account) -> None:
        key = f"{KEY_PREFIX}-{self.o.seed}-vote-{planned.index}-{voter}"
        accepted = await self.command(f"/v1/issues/{issue_id}/vote", citizen, key)
        self.summary.votes += accepted is True  # counted after the await: concurrent chains add up

    async def comment(self, issue_id: str, planned: PlannedReport, number: int, author: Account, text: str) -> None:
        key = f"{KEY_PREFIX}-{self.o.seed}-comment-{planned.index}-{number}"
        accepted = await self.command(f"/v1/issues/{issue_id}/comments", author, key, {"body": text})
        self.summary.comments += accepted is True

    # -- the whole ------------------------------------------------------------------------

    async def run(self) -> Summary:
        o, started = self.o, time.monotonic()
        setup = self.progress.add_task("City catalogue and accounts", total=3)
        await self.ensure_catalogue()
        self.progress.advance(setup)
        importers_n, citizens_n = accounts_for(o.reports)
        importers = [self.account(f"demo-importer-{i + 1:02d}", f"Import {i + 1}", "admin") for i in range(importers_n)]
        # The first importer's creation time anchors the plan (a rerun on a later day finds the same plan).
        await self.ensure_accounts(importers[:1])
        me = _check(await self.api.send("GET", "/v1/me", account=importers[0]), 200).json()
        anchor = datetime.fromisoformat(me["created_at"]).astimezone(UTC).replace(microsecond=0)
        plan = make_plan(
            seed=o.seed,
            reports=o.reports,
            days=o.days,
            anchor=anchor,
            catalogue=self.catalogue,
            wards=load_wards(),
            photos=o.photos,
        )
        citizens = [self.account(f"demo-citizen-{i + 1:02d}", f"Citizen {i + 1}", "citizen") for i in range(citizens_n)]
        staff = {
            dept: [
                self.account(f"demo-staff-{dept}-{n + 1}", f"{dept.title()} crew {n + 1}", "staff", [dept])
                for n in range(count)
            ]
            for dept, count in sorted(plan.staff.items())
        }
        await self.ensure_accounts([*importers, *citizens, *(s for team in staff.values() for s in team)])
        self.progress.advance(setup)
        self.summary.reports_planned = len(plan.reports)
        self.summary.planned_statuses = Counter(r.target for r in plan.reports)
        self.summary.planned_photos = sum(r.photo for r in plan.reports)
        self.summary.planned_votes = sum(len(r.voters) for r in plan.reports)
        self.summary.planned_comments = sum(len(r.comments) for r in plan.reports)
        stored = await self.stored(plan, importers)
        self.summary.reports_found = len(stored)
        self.progress.advance(setup)

        # One chain per report, all at once (each account paced, few requests in flight): the report
        # if it is missing, then its staff's steps one after the other, and its votes and comments.
        # Staff and citizens start on the first reports while the importers send the rest.
        self.tasks = {
            "reports": self.progress.add_task("Reports", total=len(plan.reports), completed=len(stored)),
            "steps": self.progress.add_task(
                "Staff transitions",
                total=sum(len(r.path) for r in plan.reports),
                completed=sum(_steps_done(r, stored.get(r.index)) for r in plan.reports),
            ),
            "participation": self.progress.add_task(
                "Votes and comments", total=self.summary.planned_votes + self.summary.planned_comments
            ),
        }
        people = (importers, citizens, staff)
        await _all(self.life(planned, stored.get(planned.index), people) for planned in plan.reports)

        expected = {r.index: (r.target, len(r.voters)) for r in plan.reports}
        final = await self.wait_for(plan, importers, _reached(expected))
        self.summary.statuses = Counter(item["status"] for item in final.values())
        self.summary.overdue = sum(bool(item.get("overdue")) for item in final.values())
        self.summary.issue_ids = [item["id"] for item in final.values()]
        self.summary.requests, self.summary.waited_429 = self.api.requests, self.api.waited_429
        self.summary.answers = self.api.answers
        self.summary.seconds = time.monotonic() - started
        return self.summary

    async def life(self, planned: PlannedReport, item: dict[str, Any] | None, people: People) -> None:
        """What becomes of one report; a failure is counted and shown, and the other reports go on."""
        try:
            await self._life(planned, item, people)
        except DemoError as exc:
            self.summary.failed += 1
            self.progress.console.print(f"[red]demo: report {planned.index}: {exc}[/red]")

    async def _life(self, planned: PlannedReport, item: dict[str, Any] | None, people: People) -> None:
        """Created if missing, then moved along, voted for and commented on."""
        importers, _, staff = people
        if item is None:
            issue_id, current, votes = await self.report(planned, importers[planned.importer]), "open", 0
            self.progress.advance(self.tasks["reports"])
            await asyncio.sleep(APPLY_S)  # the issues service applies it moments after its 202
        else:
            issue_id, current, votes = item["id"], item["status"], int(item.get("votes", 0))

        async def walk() -> None:
            status = current
            team = staff[planned.department]
            while (step := _next_step(planned, status)) is not None:
                if not await self.transition(issue_id, planned, status, step, team[planned.staff % len(team)]):
                    return
                self.progress.advance(self.tasks["steps"])
                status = step
                await asyncio.sleep(APPLY_S)

        await asyncio.gather(walk(), self.participate(issue_id, planned, people, votes=votes, fresh=item is None))

    async def participate(
        self, issue_id: str, planned: PlannedReport, people: People, *, votes: int, fresh: bool
    ) -> None:
        """Its citizens' votes (unless it has as many already) and the planned comments it lacks."""
        importers, citizens, staff = people
        if votes < len(planned.voters):
            for voter in planned.voters:
                await self.vote(issue_id, planned, voter, citizens[voter])
                self.progress.advance(self.tasks["participation"])
        else:
            self.progress.advance(self.tasks["participation"], len(planned.voters))
        if not planned.comments:
            return
        present: Counter[str] = Counter()
        if not fresh:  # one created by this run has none yet; else read by its importer (signed in already)
            reader = importers[planned.importer]
            detail = _check(await self.api.send("GET", f"/v1/issues/{issue_id}", account=reader), 200).json()
            present = Counter(c["body"] for c in detail["comments"])
        team = staff[planned.department]
        for number, (kind, who, text) in enumerate(planned.comments):
            if present[text] > 0:
                present[text] -= 1
            else:
                author = citizens[who] if kind == "citizen" else team[planned.staff % len(team)]
                await self.comment(issue_id, planned, number, author, text)
            self.progress.advance(self.tasks["participation"])

    async def wait_for(
        self,
        plan: Plan,
        importers: Sequence[Account],
        until: Callable[[dict[int, dict[str, Any]]], bool],
    ) -> dict[int, dict[str, Any]]:
        """Read the importers' reports until ``until`` holds (commands are applied moments after their 202)."""
        deadline = time.monotonic() + self.o.wait_s
        while True:
            stored = await self.stored(plan, importers)
            if until(stored):
                return stored
            if time.monotonic() > deadline:
                self.progress.console.print(
                    f"[yellow]demo: some commands were not applied within {self.o.wait_s:.0f} s[/yellow]"
                )
                return stored
            await asyncio.sleep(2.0)


async def seed(options: Options, console: Console | None = None) -> Summary:
    console = console or Console(stderr=True, quiet=options.quiet)
    api = Api(options.url, concurrency=options.concurrency)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=False, disable=options.quiet) as progress:
            return await Demo(options, api, progress).run()
    finally:
        await api.aclose()
