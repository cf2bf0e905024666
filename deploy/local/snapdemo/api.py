"""The gateway, as many demo accounts at once: paced per account, bounded in flight, 429s waited out."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from limits import RateLimitItem, RateLimitItemPerMinute, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from .data import KEY_PREFIX, DemoError


@dataclass
class Account:
    email: str
    display_name: str
    role: str
    departments: tuple[str, ...] = ()
    password: str = ""
    token: str | None = None
    user_id: str | None = None
    created_at: datetime | None = None


def demo_password(admin_password: str, email: str) -> str:
    """A demo account's password: derived from the administrator's (never written down, never public)."""
    digest = hmac.new(admin_password.encode(), f"{KEY_PREFIX}:{email}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:28]


class Api:
    """The gateway, as many demo accounts at once: paced per account, bounded in flight, 429s waited out."""

    def __init__(self, base_url: str, *, concurrency: int, timeout_s: float = 30.0) -> None:
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout_s, connect=5.0),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self.inflight = asyncio.Semaphore(concurrency)
        self.window = MovingWindowRateLimiter(MemoryStorage())
        # 90% of what the gateway announces (RateLimit-Policy), 90/minute until it has said.
        self.per_user: RateLimitItem = RateLimitItemPerMinute(90)
        self.sign_ins: RateLimitItem = RateLimitItemPerMinute(9)
        self.sign_in_lock: dict[str, asyncio.Lock] = {}
        self.pace_locks: dict[str, asyncio.Lock] = {}
        self.requests = 0
        self.waited_429 = 0
        # "POST /v1/issues/{id}/vote 202 replayed": every answer, for the summary (and for debugging).
        self.answers: Counter[str] = Counter()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _pace(self, item: RateLimitItem, key: str) -> None:
        """Wait for a slot in ``key``'s window; waiters queue (first come, first served) instead of all polling."""
        async with self.pace_locks.setdefault(key, asyncio.Lock()):
            while not await self.window.hit(item, key):
                stats = await self.window.get_window_stats(item, key)
                await asyncio.sleep(max(0.05, stats.reset_time - time.time()))

    def _learn(self, response: httpx.Response, *, sign_in: bool = False) -> None:
        """Pace by the policy the gateway names (for a sign-in: the closer of its per-address limits)."""
        policy = response.headers.get("ratelimit-policy", "")
        if match := re.match(r'"(\w+)";q=(\d+);w=(\d+)', policy):
            name, quota, window = match[1], int(match[2]), int(match[3])
            item = parse(f"{max(1, int(quota * 0.9))}/{window} second")
            current = self.sign_ins if sign_in else self.per_user
            if (name == "user" or sign_in) and (current.amount, current.get_expiry()) != (item.amount, window):
                if sign_in:
                    self.sign_ins = item
                else:
                    self.per_user = item

    async def send(
        self,
        method: str,
        path: str,
        *,
        account: Account | None,
        key: str | None = None,
        attempts: int = 8,
        pace: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        """One request, retried on 429/503 (as Retry-After says) and on transport errors."""
        for attempt in range(attempts):
            headers = dict(kwargs.pop("headers", None) or {})
            if account is not None:
                if account.token is None:
                    await self.sign_in(account)
                headers["authorization"] = f"Bearer {account.token}"
                if pace:
                    await self._pace(self.per_user, account.email)
            if key is not None:
                headers["idempotency-key"] = key
            try:
                async with self.inflight:
                    self.requests += 1
                    response = await self.http.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError:
                await asyncio.sleep(min(10.0, 0.5 * 2**attempt))
                continue
            finally:
                kwargs["headers"] = headers
            self._learn(response)
            replayed = " replayed" if response.headers.get("idempotent-replayed") == "true" else ""
            kind = re.sub(r"/[0-9a-f]{8}-[0-9a-f-]{27}", "/{id}", httpx.URL(path).path)
            self.answers[f"{method} {kind} {response.status_code}{replayed}"] += 1
            if response.status_code in {429, 503}:
                self.waited_429 += response.status_code == 429
                await asyncio.sleep(_retry_after(response, attempt))
                continue
            if response.status_code == 401 and account is not None and attempt < attempts - 1:
                account.token = None  # expired (access tokens are short-lived): sign in again
                continue
            return response
        raise DemoError(f"{method} {path}: no answer after {attempts} attempts")

    async def sign_in(self, account: Account) -> None:
        lock = self.sign_in_lock.setdefault(account.email, asyncio.Lock())
        async with lock:
            if account.token is not None:
                return
            form = {"grant_type": "password", "username": account.email, "password": account.password}
            for attempt in range(12):
                await self._pace(self.sign_ins, "sign-in")
                async with self.inflight:
                    self.requests += 1
                    response = await self.http.post("/v1/auth/token", data=form)
                self._learn(response, sign_in=True)
                if response.status_code in {429, 503}:
                    self.waited_429 += response.status_code == 429
                    await asyncio.sleep(_retry_after(response, attempt))
                    continue
                if response.status_code != 200:
                    hint = " (demo passwords derive from the administrator's: has it changed?)"
                    raise DemoError(
                        f"{account.email} cannot sign in: {response.status_code}{hint} {response.text[:300]}"
                    )
                account.token = response.json()["access_token"]
                return
            raise DemoError(f"{account.email} could not sign in (rate limited throughout)")


def _retry_after(response: httpx.Response, attempt: int) -> float:
    value = response.headers.get("retry-after", "")
    return float(value) + 0.1 if value.isdigit() else min(10.0, 0.5 * 2**attempt)


def _check(response: httpx.Response, *expected: int) -> httpx.Response:
    if response.status_code not in expected:
        request = response.request
        raise DemoError(f"{request.method} {request.url.path}: {response.status_code} {response.text[:500]}")
    return response
