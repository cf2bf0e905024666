"""The steady mix of work through nginx: citizens report, upload, comment, vote and read; staff move reports along."""

from __future__ import annotations

import asyncio
import contextlib
import io
import random
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import httpx
from PIL import Image
from pymongo import AsyncMongoClient

from bench.chaos_ledger import Attempt, Ledger, Report
from bench.chaos_settings import (
    CATEGORIES,
    CITIZENS,
    PASSWORD,
)
from bench.chaos_stack import LocalStack


@dataclass
class Person:
    index: int
    email: str
    client: httpx.AsyncClient
    user_id: str = ""


class Load:
    """The steady mix: citizens report (some with a photo), comment, vote and read; staff move reports along."""

    def __init__(self, stack: LocalStack, ledger: Ledger, photo: bytes) -> None:
        self.stack, self.ledger, self.photo = stack, ledger, photo
        self.tls = ssl.create_default_context(cafile=str(stack.ca))
        self.citizens: list[Person] = []
        self.staff: dict[str, Person] = {}
        self.admin: httpx.AsyncClient | None = None
        self.queues: dict[str, list[tuple[float, str, list[str]]]] = {d: [] for d in set(CATEGORIES.values())}
        self.stop = asyncio.Event()
        self.rng = random.Random(15)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.stack.edge_url, verify=self.tls, timeout=10)

    async def request(
        self, client: httpx.AsyncClient, method: str, path: str, what: str, *, retries: int = 3, **kwargs: Any
    ) -> httpx.Response | None:
        """One request, retried as a phone retries (same Idempotency-Key) on no answer, 5xx, 409 in progress, 429."""
        headers = dict(kwargs.pop("headers", {}))
        if method in {"POST", "PUT", "DELETE"} and not path.startswith("/v1/media/"):
            headers["idempotency-key"] = str(uuid4())
        response: httpx.Response | None = None
        for attempt in range(retries + 1):
            start = time.monotonic()
            try:
                response = await client.request(method, path, headers=headers, **kwargs)
                status = response.status_code
            except httpx.HTTPError:
                response, status = None, 0
            self.ledger.attempts.append(Attempt(start, time.monotonic(), status, what))
            again = (
                status == 0
                or status >= 500
                or status == 429
                or (status == 409 and "retry-after" in headers_of(response))
            )
            if not again or attempt == retries or self.stop.is_set():
                break
            await asyncio.sleep(0.5 * 2**attempt + self.rng.uniform(0, 0.3))
        return response

    def outcome(self, kind: str, response: httpx.Response | None) -> bool:
        if response is None or response.status_code >= 500:
            self.ledger.unanswered[kind] += 1
            return False
        if response.status_code != 202:
            self.ledger.refused[f"{kind} {response.status_code}"] += 1
            return False
        self.ledger.accepted[kind] += 1
        return True

    # -- set-up

    async def sign_in(self, email: str, password: str) -> httpx.AsyncClient:
        client = self.client()
        form = {"grant_type": "password", "username": email, "password": password}
        response = await client.post("/v1/auth/token", data=form)
        response.raise_for_status()
        client.headers["authorization"] = f"Bearer {response.json()['access_token']}"
        return client

    async def set_up(self, mongo_url: str) -> None:
        admin_password = (self.stack.dir / "admin-password").read_text().strip()
        self.admin = await self.sign_in(self.stack.mod.ADMIN_EMAIL, admin_password)
        async with self.client() as anonymous:
            for i in range(CITIZENS):
                email = f"chaos-{self.ledger.run}-{i}@example.org"
                body = {"email": email, "password": PASSWORD, "display_name": f"Citizen {i}"}
                (await anonymous.post("/v1/auth/register", json=body)).raise_for_status()
                person = Person(i, email, await self.sign_in(email, PASSWORD))
                person.user_id = (await person.client.get("/v1/me")).json()["id"]
                self.citizens.append(person)
        for n, department in enumerate(sorted(set(CATEGORIES.values()))):
            email = f"chaos-{self.ledger.run}-staff-{department}@city.example"
            crew = {"email": email, "password": PASSWORD, "display_name": "Crew", "departments": [department]}
            (await self.admin.post("/v1/admin/users", json=crew)).raise_for_status()
            person = Person(100 + n, email, await self.sign_in(email, PASSWORD))
            person.user_id = (await person.client.get("/v1/me")).json()["id"]
            self.staff[department] = person
        # Uploads need a verified address: verified as the emailed link would (tests/e2e/api.py does the same).
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, uuidRepresentation="standard")
        try:
            ids = [UUID(p.user_id) for p in self.citizens]
            await mongo["snapfix_gateway"]["accounts"].update_many(
                {"_id": {"$in": ids}}, {"$set": {"email_verified": True, "verify_token_hash": None}}
            )
        finally:
            await mongo.close()

    async def close(self) -> None:
        for person in [*self.citizens, *self.staff.values()]:
            await person.client.aclose()
        if self.admin is not None:
            await self.admin.aclose()

    # -- the work

    async def citizen(self, me: Person) -> None:
        rng = random.Random(me.index)
        while not self.stop.is_set():
            roll = rng.random()
            if roll < 0.3:
                await self.report(me, with_photo=rng.random() < 0.3)
            elif roll < 0.45:
                await self.comment(me, rng)
            elif roll < 0.6:
                await self.vote(me, rng)
            else:
                await self.read(me, rng)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), rng.uniform(0.8, 2.0))

    async def report(self, me: Person, *, with_photo: bool) -> None:
        media_ids: list[str] = []
        if with_photo:
            media_id = await self.upload(me)
            if media_id is None:
                return
            media_ids.append(media_id)
        category = random.choice(list(CATEGORIES))
        title = self.ledger.title()
        lat, lon = 52.52 + random.uniform(-0.02, 0.02), 13.405 + random.uniform(-0.02, 0.02)
        body: dict[str, Any] = {
            "title": title,
            "description": "Seen on the way to work",
            "category": category,
            "lat": lat,
            "lon": lon,
        }
        if media_ids:
            body["media_ids"] = media_ids
        response = await self.request(me.client, "POST", "/v1/issues", "report", json=body)
        if not self.outcome("report", response):
            self.ledger.last_answer[title] = str(response.status_code) if response is not None else "no answer"
        else:
            assert response is not None
            issue = str(response.json()["id"])
            self.ledger.reports[issue] = Report(issue, title, category, me.index, media_ids, time.monotonic())
            steps = ["acknowledged"] + (["in_progress"] if random.random() < 0.5 else [])
            steps += ["resolved"] if random.random() < 0.7 else []
            self.queues[CATEGORIES[category]].append((time.monotonic() + random.uniform(2, 6), issue, steps))

    async def upload(self, me: Person) -> str | None:
        ticket = await self.request(
            me.client, "POST", "/v1/media", "media", json={"content_type": "image/jpeg", "size": len(self.photo)}
        )
        if ticket is None or ticket.status_code != 201:
            self.ledger.refused[f"media-ticket {ticket.status_code if ticket else 0}"] += 1
            return None
        issued = ticket.json()
        parts = urlsplit(issued["upload_url"])
        put = await self.request(
            me.client, "PUT", f"{parts.path}?{parts.query}", "upload", retries=0, content=self.photo
        )
        if not self.outcome("photo", put):
            return None
        self.ledger.photos[str(issued["id"])] = me.index
        return str(issued["id"])

    def others_report(self, me: Person, rng: random.Random) -> Report | None:
        reports = [r for r in list(self.ledger.reports.values())[-200:] if r.reporter != me.index]
        return rng.choice(reports) if reports else None

    async def comment(self, me: Person, rng: random.Random) -> None:
        target = self.others_report(me, rng)
        if target is None:
            return
        body = f"Chaos comment {self.ledger.run} {uuid4().hex[:12]}"
        response = await self.request(
            me.client, "POST", f"/v1/issues/{target.id}/comments", "comment", json={"body": body}
        )
        if self.outcome("comment", response):
            assert response is not None
            self.ledger.comments[str(response.json()["id"])] = (target.id, me.index, body)

    async def vote(self, me: Person, rng: random.Random) -> None:
        target = self.others_report(me, rng)
        if target is None or me.index in self.ledger.votes[target.id]:
            return
        response = await self.request(me.client, "POST", f"/v1/issues/{target.id}/vote", "vote")
        if self.outcome("vote", response):
            self.ledger.votes[target.id].add(me.index)

    async def read(self, me: Person, rng: random.Random) -> None:
        target = self.others_report(me, rng)
        roll = rng.random()
        if target is not None and roll < 0.5:
            await self.request(me.client, "GET", f"/v1/issues/{target.id}", "read issue", retries=0)
        elif roll < 0.8:
            params = {"lat": 52.52, "lon": 13.405, "radius_m": 3000}
            await self.request(me.client, "GET", "/v1/issues", "read nearby", retries=0, params=params)
        else:
            await self.request(me.client, "GET", "/v1/me", "read me", retries=0)

    async def crew(self, department: str) -> None:
        """Staff take their department's reports one step at a time, a few seconds apart."""
        me, queue = self.staff[department], self.queues[department]
        while not self.stop.is_set():
            now = time.monotonic()
            due = next((item for item in queue if item[0] <= now), None)
            if due is not None:
                queue.remove(due)
                _, issue, steps = due
                to, rest = steps[0], steps[1:]
                note = f"Chaos step {self.ledger.run} {uuid4().hex[:12]}"
                response = await self.request(
                    me.client, "POST", f"/v1/issues/{issue}/transitions", "transition", json={"to": to, "note": note}
                )
                if response is not None and response.status_code == 404:
                    # Not readable yet (its report is still on its way through a fault): later.
                    self.ledger.refused["transition 404 (tried again later)"] += 1
                    queue.append((time.monotonic() + 5, issue, steps))
                elif self.outcome("transition", response):
                    self.ledger.transitions[issue].append((to, note))
                    if rest:
                        queue.append((time.monotonic() + random.uniform(3, 8), issue, rest))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), 0.3)


def headers_of(response: httpx.Response | None) -> httpx.Headers:
    return response.headers if response is not None else httpx.Headers()


def small_photo() -> bytes:
    image = Image.new("RGB", (640, 480), (40, 110, 190))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()
