"""Calls from one SnapFix process to another's HTTP API: pooled aiohttp, timeouts, 503 on failure.

aiohttp rather than httpx: httpcore's pool checks every idle connection on every request,
which cost the gateway about 7 ms of CPU per relayed call under load.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from multidict import CIMultiDictProxy

from snapfix_shared.breakers import HTTP_DOWN, Breakers, CircuitOpen
from snapfix_shared.problems import ServiceUnavailable


def _retry_after(exc: CircuitOpen) -> int:
    return int(exc.headers.get("Retry-After", "2"))


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: CIMultiDictProxy[str]


class UpstreamError(Exception):
    """The owner did not answer (refused, reset, timed out), or its circuit is open."""

    def __init__(self, message: str, *, retry_after_s: int = 2) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Upstream:
    """One owner's base URL and a connection pool, opened in the lifespan."""

    def __init__(self, name: str, base_url: str, timeout_s: float, *, breakers: Breakers | None = None) -> None:
        self.name, self.base_url, self.timeout_s = name, base_url.rstrip("/"), timeout_s
        # Without a circuit, a hanging owner would hold every caller for the whole timeout.
        self.breakers = breakers or Breakers(f"upstream-{name}")
        self._session: aiohttp.ClientSession | None = None

    @asynccontextmanager
    async def _circuit(self) -> AsyncIterator[None]:
        try:
            async with self.breakers.guard(self.name, HTTP_DOWN):
                yield
        except CircuitOpen as exc:
            raise UpstreamError(
                f"circuit open after repeated failures ({exc.detail})", retry_after_s=_retry_after(exc)
            ) from exc
        except HTTP_DOWN as exc:
            raise UpstreamError(f"{type(exc).__name__}: {exc}") from exc

    async def open(self) -> None:
        # Idle connections are dropped well before the services' keep-alive timeout
        # (see serve.py), so a request never goes out on a socket the server is closing.
        connector = aiohttp.TCPConnector(limit=200, keepalive_timeout=20)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout_s), raise_for_status=False
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def fetch(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: str | None = None,
        content: bytes | None = None,
    ) -> Answer:
        assert self._session is not None, "Upstream.open() runs in the lifespan"
        url = f"{self.base_url}{path}" + (f"?{params}" if params else "")
        async with self._circuit(), self._session.request(method, url, headers=headers, data=content) as response:
            return Answer(response.status, await response.read(), response.headers)

    async def send_stream(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        body: AsyncIterable[bytes],
        timeout_s: float,
        params: str | None = None,
    ) -> Answer:
        """Send a request body chunk by chunk as it arrives (never held whole); read the short answer."""
        assert self._session is not None, "Upstream.open() runs in the lifespan"
        url = f"{self.base_url}{path}" + (f"?{params}" if params else "")
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with (
            self._circuit(),
            self._session.request(method, url, headers=headers, data=body, timeout=timeout) as response,
        ):
            return Answer(response.status, await response.read(), response.headers)

    async def call(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str],
        params: str | None = None,
        content: bytes | None = None,
    ) -> Answer:
        """One request to the owner; an unreachable or failing owner is a 503 for the client."""
        try:
            answer = await self.fetch(method, path, headers=headers, params=params, content=content)
        except UpstreamError as exc:
            raise ServiceUnavailable(
                f"The {self.name} service is not reachable ({exc}).", retry_after_s=exc.retry_after_s
            ) from exc
        if answer.status >= 500:
            raise ServiceUnavailable(f"The {self.name} service failed ({answer.status}).")
        return answer

    async def open_stream(
        self, path: str, *, headers: Mapping[str, str], params: str | None = None, idle_timeout_s: float = 30.0
    ) -> tuple[int, CIMultiDictProxy[str], AsyncIterator[bytes]]:
        """GET a long answer: its status and headers now, its body chunk by chunk as it arrives.

        No total deadline (an export may run for minutes); each read waits at most
        ``idle_timeout_s``. The body iterator releases the connection when done or closed.
        """
        assert self._session is not None, "Upstream.open() runs in the lifespan"
        url = f"{self.base_url}{path}" + (f"?{params}" if params else "")
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout_s, sock_read=idle_timeout_s)
        try:
            response = await self._session.get(url, headers=headers, timeout=timeout)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise UpstreamError(f"{type(exc).__name__}: {exc}") from exc

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.content.iter_chunked(64 * 1024):
                    yield chunk
            finally:
                response.release()

        return response.status, response.headers, body()
