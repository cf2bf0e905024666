"""The webhook transport: one signed POST per attempt over pooled aiohttp, every wait bounded.

Redirects are not followed (a signed body goes only where the admin registered it, and a
3xx cannot lead to an internal address); an answer's first bytes are kept for the delivery
log, never more. Before every attempt the target is judged again by the deployment's
policy (``targets.py``): the URL's scheme and host, then, at connection time, each address
its name resolves to. The connection goes to the addresses that passed, never to a second
lookup's answer, so re-pointing DNS after the check (rebinding) reaches nothing private.
A refused attempt sends nothing and says why in the delivery log.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from snapfix_notify.channels.webhook.signing import signed_headers
from snapfix_notify.channels.webhook.targets import TargetPolicy, address_refusal

USER_AGENT = "SnapFix-Webhooks/1.0"
KEPT_ANSWER_BYTES = 256


class TargetRefused(OSError):
    """The target is not one this deployment may reach (the attempt sends nothing)."""


class PublicOnlyResolver(AbstractResolver):
    """Resolves as usual, then keeps only the public addresses; none left: the target is refused.

    aiohttp connects to exactly the addresses returned here (and caches them), so what was
    checked is what is reached.
    """

    def __init__(self, dns: AbstractResolver | None = None) -> None:
        self._resolver = dns or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        resolved = await self._resolver.resolve(host, port, family)
        verdicts = [(r, address_refusal(r["host"])) for r in resolved]
        public = [r for r, why in verdicts if why is None]
        if not public:
            refused = "; ".join(why for _, why in verdicts if why is not None)
            raise TargetRefused(f"{host} resolves to no public address ({refused or 'none'})")
        return public

    async def close(self) -> None:
        await self._resolver.close()


@dataclass(frozen=True)
class Attempt:
    status: int | None
    """The HTTP status, or None when no answer came (timeout, refused, reset)."""
    error: str | None
    duration_ms: float
    refused: bool = False
    """The deployment's policy forbade the target: nothing was sent, and retrying will not help."""


class WebhookSender:
    def __init__(
        self,
        *,
        timeout_s: float,
        max_connections: int,
        allow_private: bool,
        https_only: bool = False,
        dns: AbstractResolver | None = None,
    ) -> None:
        """``dns``: the resolver names are looked up with (None: aiohttp's default; tests pass their own)."""
        self.timeout_s, self.max_connections = timeout_s, max_connections
        self.policy = TargetPolicy(https_only=https_only, allow_private=allow_private)
        self._dns = dns
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        resolver = self._dns if self.policy.allow_private else PublicOnlyResolver(self._dns)
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
        started = time.perf_counter()
        if (why := self.policy.url_refusal(url)) is not None:
            return Attempt(None, f"target refused: {why}", _ms(started), refused=True)
        headers = signed_headers(secret, webhook_id, body)
        try:
            async with self._session.post(url, data=body.encode(), headers=headers, allow_redirects=False) as answer:
                status = answer.status
                error = None
                if not 200 <= status < 300:
                    head = await answer.content.read(KEPT_ANSWER_BYTES)
                    error = f"HTTP {status}: {head.decode(errors='replace')}".strip()
        except TimeoutError:
            return Attempt(None, f"no answer within {self.timeout_s}s", _ms(started))
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, TargetRefused):
                return Attempt(None, f"target refused: {exc.os_error}", _ms(started), refused=True)
            return Attempt(None, f"{type(exc).__name__}: {exc}"[:300], _ms(started))
        except (aiohttp.ClientError, OSError) as exc:
            return Attempt(None, f"{type(exc).__name__}: {exc}"[:300], _ms(started))
        return Attempt(status, error, _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
