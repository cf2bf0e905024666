"""Rate limits at the edge, with the `limits` library: fixed windows counted in Redis.

- every signed-in user: ``rate_limit_user`` over the whole API (the product's 100/minute);
- anonymous callers: ``rate_limit_anonymous`` per client IP;
- the token, registration and password-reset endpoints: also ``rate_limit_token`` per client IP.

Answers carry ``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers);
a refused request is ``429`` problem+json with ``Retry-After``. When Redis is down the
counting falls back to this process's memory rather than failing the request.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import orjson
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisClusterStorage, RedisStorage, Storage
from limits.errors import StorageError
from redis.exceptions import RedisClusterException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.identity.tokens import InvalidToken, TokenCodec
from snapfix_shared.breakers import Breakers, CircuitOpen
from snapfix_shared.problems import PROBLEM_JSON

log = logging.getLogger(__name__)

VERIFIED_TOKEN = "verified_token"  # noqa: S105 - a scope key, not a secret
_EXEMPT = ("/livez", "/readyz", "/metrics", "/docs", "/openapi.json", "/redoc")
_CREDENTIAL_PATHS = (
    "/v1/auth/token",
    "/v1/auth/register",
    "/v1/auth/password-reset",
    "/v1/auth/password-reset/confirm",
)


@dataclass(frozen=True)
class Policy:
    name: str
    item: RateLimitItem

    @property
    def window_s(self) -> int:
        return int(self.item.get_expiry())


@dataclass(frozen=True)
class Verdict:
    policy: Policy
    allowed: bool
    remaining: int
    reset_s: int


def storage_uri(redis_url: str, *, cluster: bool, ssl_ca_file: str | None) -> tuple[str, dict[str, str | bool]]:
    """The `limits` storage URI and TLS options for the process's Redis settings.

    ``limits`` names a cluster ``async+redis+cluster://[:password]@host:port`` (no TLS
    scheme of its own, no database): a ``rediss://`` URL becomes that plus ``ssl=True``.
    """
    tls = redis_url.startswith("rediss://")
    options: dict[str, str | bool] = {"ssl_ca_certs": ssl_ca_file} if tls and ssl_ca_file else {}
    if not cluster:
        return "async+" + redis_url, options
    parts = urlsplit(redis_url)
    if tls:
        options["ssl"] = True
    return urlunsplit(("async+redis+cluster", parts.netloc, "", "", "")), options


# `limits` wraps redis-py's RedisError only; an unreachable cluster raises this one, unwrapped.
_DOWN = (StorageError, RedisClusterException)


def _storage_down(exc: BaseException) -> bool:
    return isinstance(exc, _DOWN)


class Limiter:
    """Fixed windows in the `limits` library's storage: Redis first, this process's memory
    while Redis does not answer.

    One Redis call per request in the common case: the storage's atomic increment gives
    the count (so the remaining quota), and each window's end is asked for once and then
    remembered here until it passes.
    """

    _MAX_REMEMBERED = 100_000

    def __init__(
        self,
        redis_url: str,
        timeout_s: float,
        breakers: Breakers | None = None,
        *,
        cluster: bool = False,
        ssl_ca_file: str | None = None,
    ) -> None:
        # While Redis's circuit is open, counting goes straight to memory instead of each
        # request waiting out the Redis timeout first.
        self.breakers = breakers or Breakers("gateway")
        uri, options = storage_uri(redis_url, cluster=cluster, ssl_ca_file=ssl_ca_file)
        storage_class = RedisClusterStorage if cluster else RedisStorage
        self._redis: Storage = storage_class(
            uri,
            implementation="redispy",
            wrap_exceptions=True,
            key_prefix="gw:rl",
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            **options,
        )
        self._local: Storage = MemoryStorage()
        self._window_ends: dict[tuple[int, str], float] = {}
        self.degraded = False

    async def check(self, policy: Policy, key: str) -> Verdict:
        try:
            async with self.breakers.guard("redis", _storage_down):
                verdict = await self._check(self._redis, policy, key)
        except (*_DOWN, CircuitOpen) as exc:
            if not self.degraded:
                log.warning("rate limits counted locally: Redis is not answering (%r)", exc)
            self.degraded = True
            return await self._check(self._local, policy, key)
        self.degraded = False
        return verdict

    async def _check(self, storage: Storage, policy: Policy, key: str) -> Verdict:
        item, now = policy.item, time.time()
        storage_key = item.key_for(policy.name, key)
        count = await storage.incr(storage_key, item.get_expiry())
        remembered = (id(storage), storage_key)
        ends_at = self._window_ends.get(remembered, 0.0)
        if count == 1:  # this hit opened the window
            ends_at = now + item.get_expiry()
        elif ends_at <= now:
            ends_at = await storage.get_expiry(storage_key)
        if len(self._window_ends) >= self._MAX_REMEMBERED:
            self._window_ends.clear()
        self._window_ends[remembered] = ends_at
        reset_s = max(1, math.ceil(ends_at - now))
        return Verdict(policy, count <= item.amount, max(0, item.amount - count), reset_s)


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, settings: GatewaySettings, tokens: TokenCodec, limiter: Limiter) -> None:
        self.app, self.tokens, self.limiter = app, tokens, limiter
        self.user = Policy("user", parse(settings.rate_limit_user))
        self.anonymous = Policy("anonymous", parse(settings.rate_limit_anonymous))
        self.credentials = Policy("credentials", parse(settings.rate_limit_token))

    def _user_id(self, scope: Scope) -> str | None:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token:
                    try:
                        claims = self.tokens.verify(token.strip())
                    except InvalidToken:
                        return None
                    # Verified once per request: the auth dependency reuses it (same token).
                    scope.setdefault("state", {})[VERIFIED_TOKEN] = (token.strip(), claims)
                    return claims.user_id
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(_EXEMPT):
            await self.app(scope, receive, send)
            return
        client_ip = (scope.get("client") or ("unknown", 0))[0]
        user_id = self._user_id(scope)
        checks = [(self.user, user_id)] if user_id else [(self.anonymous, client_ip)]
        if scope["method"] == "POST" and path in _CREDENTIAL_PATHS:
            checks.append((self.credentials, client_ip))
        verdicts = [await self.limiter.check(policy, key) for policy, key in checks]
        # The policy closest to refusing is the one the client is told about.
        shown = min(verdicts, key=lambda v: (v.allowed, v.remaining))
        headers = [
            (
                b"ratelimit-policy",
                f'"{shown.policy.name}";q={shown.policy.item.amount};w={shown.policy.window_s}'.encode(),
            ),
            (b"ratelimit", f'"{shown.policy.name}";r={shown.remaining};t={shown.reset_s}'.encode()),
        ]
        if not shown.allowed:
            await self._refuse(scope, send, shown, headers)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).extend(headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    async def _refuse(scope: Scope, send: Send, verdict: Verdict, headers: list[tuple[bytes, bytes]]) -> None:
        body = orjson.dumps(
            {
                "type": "about:blank",
                "title": "Too Many Requests",
                "status": 429,
                "detail": (
                    f"At most {verdict.policy.item.amount} requests per {verdict.policy.window_s} s "
                    f"({verdict.policy.name}); retry in {verdict.reset_s} s."
                ),
                "instance": scope.get("path", ""),
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(verdict.reset_s).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
