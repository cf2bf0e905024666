"""The webhook transport: one signed POST per attempt over pooled aiohttp, every wait bounded.

Redirects are not followed (a signed body goes only where the admin registered it); an
answer's first bytes are kept for the delivery log, never more. Unless private networks
are allowed (tests, a laptop), a name resolving to a loopback, private, link-local or
otherwise non-public address is refused at connection time, so an endpoint cannot make
the service call inside the deployment, even by re-pointing its DNS after registration.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from snapfix_notify.webhooks.signing import signed_headers

USER_AGENT = "SnapFix-Webhooks/1.0"
KEPT_ANSWER_BYTES = 256


def is_public(address: str) -> bool:
    return ipaddress.ip_address(address).is_global


class PublicOnlyResolver(AbstractResolver):
    """Resolves as usual, then drops every non-public address (none left: the connection fails)."""

    def __init__(self) -> None:
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        public = [r for r in await self._resolver.resolve(host, port, family) if is_public(r["host"])]
        if not public:
            raise OSError(f"{host} resolves to no public address")
        return public

    async def close(self) -> None:
        await self._resolver.close()


@dataclass(frozen=True)
class Attempt:
    status: int | None
    """The HTTP status, or None when no answer came (timeout, refused, reset)."""
    error: str | None
    duration_ms: float


class WebhookSender:
    def __init__(self, *, timeout_s: float, max_connections: int, allow_private: bool) -> None:
        self.timeout_s, self.max_connections, self.allow_private = timeout_s, max_connections, allow_private
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        resolver = None if self.allow_private else PublicOnlyResolver()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.max_connections, keepalive_timeout=15, resolver=resolver),
            timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            headers={"user-agent": USER_AGENT},
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, url: str, secret: str, webhook_id: str, body: str) -> Attempt:
        assert self._session is not None, "WebhookSender.open() runs in the lifespan"
        headers = signed_headers(secret, webhook_id, body)
        started = time.perf_counter()
        try:
            async with self._session.post(url, data=body.encode(), headers=headers, allow_redirects=False) as answer:
                status = answer.status
                error = None
                if not 200 <= status < 300:
                    head = await answer.content.read(KEPT_ANSWER_BYTES)
                    error = f"HTTP {status}: {head.decode(errors='replace')}".strip()
        except TimeoutError:
            return Attempt(None, f"no answer within {self.timeout_s}s", _ms(started))
        except (aiohttp.ClientError, OSError) as exc:
            return Attempt(None, f"{type(exc).__name__}: {exc}"[:300], _ms(started))
        return Attempt(status, error, _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
