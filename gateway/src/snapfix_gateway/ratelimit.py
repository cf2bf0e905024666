"""Rate limits at the edge: fixed windows counted in each process and settled in Redis every
``rate_limit_settle_ms``; a request with an ``Idempotency-Key`` is counted in Redis in the round
trip that claims the key (one Lua script).

- every signed-in user: ``rate_limit_user`` over the whole API (the product's 100/minute);
- anonymous callers: ``rate_limit_anonymous`` per client IP;
- the token, registration and password-reset endpoints, and deleting one's account (it checks the
  password): also ``rate_limit_token`` per client IP;
- expensive reads (``GET /v1/me/export``, composed from every service): also ``rate_limit_export`` per user.

Answers carry ``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers);
a refused request is ``429`` problem+json with ``Retry-After``. When Redis is down the
counting falls back to this process's memory (the `limits` library's) rather than failing
the request. Every replica adds its counts to the same key in Redis, so a replica knows
what the others counted to within one settle interval (``Limiter``). An anonymous read answered from the edge
cache (``edge_cache``), before this middleware, is counted the same way (``AnonymousLimit``).
A caller's counters and idempotency keys share a hash tag (``{u:<user>}`` or ``{ip:<address>}``),
so the script touches one slot on Redis Cluster too.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from cachetools import TLRUCache
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.idempotency import Claim, ClaimOutcome, Idempotency
from snapfix_gateway.identity.tokens import VERIFIED_TOKEN, InvalidToken, TokenCodec
from snapfix_gateway.sending import adding_headers
from snapfix_shared.breakers import REDIS_DOWN, Breakers, CircuitOpen
from snapfix_shared.problems import send_problem
from snapfix_shared.redis_client import BatchedScript, RedisBusy
from snapfix_shared.tasks import Flusher

log = logging.getLogger(__name__)

_EXEMPT = ("/livez", "/readyz", "/metrics", "/docs", "/openapi.json", "/redoc")
_CREDENTIAL_PATHS = (
    "/v1/auth/token",
    "/v1/auth/register",
    "/v1/auth/password-reset",
    "/v1/auth/password-reset/confirm",
    "/v1/auth/password-reset/form",  # the e-mailed link's page posts the token and password here
)
# Other requests that check a password: (method, path).
_CREDENTIAL_ROUTES = frozenset({("DELETE", "/v1/me")})
# Expensive reads, limited per user on top of the user's limit: (method, path).
_EXPENSIVE_ROUTES = frozenset({("GET", "/v1/me/export")})

# KEYS: one counter per policy, then (optionally) the idempotency key.
# ARGV: the number of counters, then window (ms) and amount per counter, then the claim's
# pending value and its TTL (s). Returns count and remaining TTL (ms) per counter, then,
# with a claim: 1 and "" when it was claimed, 0 and the kept value when it was there already,
# or -1 and "" when a limit refused the request (nothing claimed).
_LIMIT_AND_CLAIM = """
local n = tonumber(ARGV[1])
local out, allowed = {}, true
for i = 1, n do
  local window, amount = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local count = redis.call('INCR', KEYS[i])
  local ttl = -1
  if count > 1 then ttl = redis.call('PTTL', KEYS[i]) end
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[i], window)
    ttl = window
  end
  if count > amount then allowed = false end
  out[#out + 1] = count
  out[#out + 1] = ttl
end
if #KEYS > n then
  if not allowed then
    out[#out + 1] = -1
    out[#out + 1] = ''
  elseif redis.call('SET', KEYS[n + 1], ARGV[2 * n + 2], 'NX', 'EX', ARGV[2 * n + 3]) then
    out[#out + 1] = 1
    out[#out + 1] = ''
  else
    out[#out + 1] = 0
    out[#out + 1] = redis.call('GET', KEYS[n + 1]) or ''
  end
end
return out
"""


# The most callers whose Redis counts a process keeps between settles (about 100 bytes each).
SETTLED_KEYS = 200_000


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


def counter_key(policy: Policy, caller: str) -> str:
    return f"gw:rl:{{{caller}}}:{policy.name}:{policy.item.amount}/{policy.window_s}"


class Limiter:
    """Fixed windows in Redis, and in this process's memory while Redis does not answer.

    A request with an ``Idempotency-Key`` is counted in Redis in its own round trip (one script
    call per caller, with the key's claim, which must be atomic across replicas). With
    ``settle_every_s``, every other request is counted without one: here first (the caller's
    count in Redis when last settled, plus what this process counted since), and every
    ``settle_every_s`` one pipeline adds this process's counts to Redis's (``INCRBY``) and
    reads the totals back. One process's own counts are exact; what other replicas counted
    reaches it within one interval, so a caller spread over N replicas can get at most what
    N-1 of them admit in one interval beyond the limit. Without it, every request asks Redis.
    """

    def __init__(self, redis: Redis, breakers: Breakers | None = None, *, settle_every_s: float | None = None) -> None:
        # While Redis's circuit is open, counting goes straight to memory instead of each
        # request waiting out the Redis timeout first.
        self.redis, self.breakers = redis, breakers or Breakers("gateway")
        # Claims made at once share one pipeline (``BatchedScript``).
        self._script = BatchedScript(redis, _LIMIT_AND_CLAIM)
        self._local = MemoryStorage()
        self.degraded = False
        self.settle_every_s = settle_every_s
        self._unsettled: dict[str, tuple[int, Policy]] = {}  # key -> (count since the last settle, its policy)
        self._in_flight: dict[str, int] = {}  # counts being added to Redis's right now
        # key -> (Redis's count, when its window ends): dropped when the window ends (or, past
        # SETTLED_KEYS, least recently used first: that caller's next settle reads it back).
        self._settled: TLRUCache[str, tuple[int, float]] = TLRUCache(
            maxsize=SETTLED_KEYS, ttu=lambda _key, settled, _now: settled[1]
        )
        # Started and stopped with the process; its last settle: what this process counted last
        # still reaches the other replicas.
        self.flusher = Flusher(settle_every_s, self.settle, name="rate-limit-settle")

    async def settle(self) -> None:
        """Add this process's counts since the last settle to Redis's, in one pipeline, and read the totals back."""
        if not self._unsettled:
            return
        batch, self._unsettled = self._unsettled, {}
        self._in_flight = {key: count for key, (count, _) in batch.items()}
        try:
            async with self.breakers.guard("redis", REDIS_DOWN):
                pipe = self.redis.pipeline(transaction=False)
                for key, (count, policy) in batch.items():
                    pipe.incrby(key, count)
                    pipe.pexpire(key, policy.window_s * 1000, nx=True)
                    pipe.pttl(key)
                replies = await pipe.execute()
        except RedisBusy:  # a burst, not an outage: these counts go with the next settle
            for key, (count, policy) in batch.items():
                self._add(key, policy, count)
            return
        except (RedisError, CircuitOpen) as exc:
            # Counted in memory meanwhile (``_in_memory``); these counts never reach Redis.
            if not self.degraded:
                log.warning("rate limits counted locally: Redis is not answering (%r)", exc)
            self.degraded = True
            return
        finally:
            self._in_flight = {}
        self.degraded = False
        now = time.monotonic()
        for index, key in enumerate(batch):
            total, ttl_ms = int(replies[3 * index]), int(replies[3 * index + 2])
            self._settled[key] = (total, now + max(ttl_ms, 0) / 1000)

    def _not_settled(self, key: str) -> int:
        """What this process counted for ``key`` that Redis's count does not hold yet."""
        unsettled = self._unsettled.get(key)
        return (unsettled[0] if unsettled else 0) + self._in_flight.get(key, 0)

    def _counted_here(self, policy: Policy, caller: str) -> Verdict:
        key = counter_key(policy, caller)
        now = time.monotonic()
        # Not counted in Redis yet, or its window is over (the cache drops it then): a new window.
        total, ends = self._settled.get(key) or (0, now + policy.window_s)
        count = total + self._not_settled(key) + 1
        self._add(key, policy, 1)
        return _verdict(policy, count, ends - now)

    def _add(self, key: str, policy: Policy, count: int) -> None:
        unsettled = self._unsettled.get(key)
        self._unsettled[key] = ((unsettled[0] if unsettled else 0) + count, policy)

    async def check(self, policy: Policy, caller: str) -> Verdict:
        verdicts, _ = await self.check_all([(policy, caller)])
        return verdicts[0]

    async def check_all(
        self, checks: list[tuple[Policy, str]], claim: Claim | None = None
    ) -> tuple[list[Verdict], ClaimOutcome | None]:
        """Count the request against each (policy, caller); claim the idempotency key when
        every limit allows it. The outcome is None when Redis could not be asked."""
        if claim is None and self.settle_every_s is not None:
            if self.degraded:  # the last settle failed: memory's own windows until Redis answers again
                for policy, caller in checks:
                    self._counted_here(policy, caller)  # so that the next settle tries Redis again
                return [await self._in_memory(policy, caller) for policy, caller in checks], None
            return [self._counted_here(policy, caller) for policy, caller in checks], None
        try:
            async with self.breakers.guard("redis", REDIS_DOWN):
                verdicts, outcome = await self._in_redis(checks, claim)
        except RedisBusy:
            if claim is not None:
                raise  # a key must be claimed, never skipped in a burst: the caller answers 503
            return [await self._in_memory(policy, caller) for policy, caller in checks], None
        except (RedisError, CircuitOpen) as exc:
            if not self.degraded:
                log.warning("rate limits counted locally: Redis is not answering (%r)", exc)
            self.degraded = True
            return [await self._in_memory(policy, caller) for policy, caller in checks], None
        self.degraded = False
        return verdicts, outcome

    async def _in_redis(
        self, checks: list[tuple[Policy, str]], claim: Claim | None
    ) -> tuple[list[Verdict], ClaimOutcome | None]:
        # One script call per caller (hash tag): one in all but a signed-in user's call to a
        # credentials endpoint. The claim rides with its caller's counters, last, and only
        # when no other counter refused, so that a refused request leaves the key unclaimed.
        by_caller: dict[str, list[int]] = {}
        for index, (_, caller) in enumerate(checks):
            by_caller.setdefault(caller, []).append(index)
        callers = sorted(by_caller, key=lambda caller: claim is not None and caller == claim.caller)
        verdicts: dict[int, Verdict] = {}
        outcome: ClaimOutcome | None = None
        for caller in callers:
            indexes = by_caller[caller]
            policies = [checks[i][0] for i in indexes]
            keys = [counter_key(policy, caller) for policy in policies]
            # What this process counted and has not settled yet counts too (the script compares
            # Redis's count with what is left of the limit), so a claim never outruns a refusal.
            here = [self._not_settled(key) for key in keys]
            args: list[Any] = [len(policies)]
            for policy, counted in zip(policies, here, strict=True):
                args += [policy.window_s * 1000, policy.item.amount - counted]
            with_claim = claim is not None and caller == claim.caller and all(v.allowed for v in verdicts.values())
            if with_claim:
                assert claim is not None
                keys.append(claim.store_key)
                args += [claim.pending, claim.pending_ttl_s]
            reply: list[Any] = await self._script(keys=keys, args=args)
            for position, (i, policy) in enumerate(zip(indexes, policies, strict=True)):
                count = int(reply[2 * position]) + here[position]
                verdicts[i] = _verdict(policy, count, int(reply[2 * position + 1]) / 1000)
            if with_claim:
                outcome = ClaimOutcome(claimed=int(reply[-2]) == 1, kept=bytes(reply[-1]) or None)
        return [verdicts[i] for i in range(len(checks))], outcome

    async def _in_memory(self, policy: Policy, caller: str) -> Verdict:
        key = counter_key(policy, caller)
        count = await self._local.incr(key, policy.item.get_expiry())
        return _verdict(policy, count, await self._local.get_expiry(key) - time.time())


def anonymous_policy(settings: GatewaySettings) -> Policy:
    return Policy("anonymous", parse(settings.rate_limit_anonymous))


def client_of(scope: Scope) -> str:
    """The caller key of an anonymous request: its client's address (after the trusted proxies' headers)."""
    return "ip:" + (scope.get("client") or ("unknown", 0))[0]


async def refuse(scope: Scope, send: Send, verdict: Verdict, headers: list[tuple[bytes, bytes]]) -> None:
    """Answer 429 problem+json with ``Retry-After`` for a refused verdict."""
    detail = (
        f"At most {verdict.policy.item.amount} requests per {verdict.policy.window_s} s "
        f"({verdict.policy.name}); retry in {verdict.reset_s} s."
    )
    retry = [(b"retry-after", str(verdict.reset_s).encode()), *headers]
    await send_problem(scope, send, 429, "Too Many Requests", detail, headers=retry)


class AnonymousLimit:
    """The anonymous limit, for answers served before ``RateLimitMiddleware`` (the edge cache's),
    counted by the same limiter as every other request: admitted, the ``RateLimit`` headers to
    send; refused, answered 429 here (None)."""

    def __init__(self, limiter: Limiter, policy: Policy) -> None:
        self.limiter, self.policy = limiter, policy

    async def __call__(self, scope: Scope, send: Send) -> list[tuple[bytes, bytes]] | None:
        verdicts, _ = await self.limiter.check_all([(self.policy, client_of(scope))])
        verdict = verdicts[0]
        headers = ratelimit_headers(verdict)
        if verdict.allowed:
            return headers
        await refuse(scope, send, verdict, headers)
        return None


async def admit(
    limiter: Limiter, checks: list[tuple[Policy, str]], claim: Claim | None, scope: Scope, send: Send
) -> tuple[list[tuple[bytes, bytes]], ClaimOutcome | None] | None:
    """Count a request against its policies (and claim its key): the ``RateLimit`` headers to send
    and the claim's outcome; None when it was refused, answered here (429, or 503 when every Redis
    connection was busy and its key could not be claimed)."""
    try:
        verdicts, outcome = await limiter.check_all(checks, claim)
    except RedisBusy:
        detail = "Too busy to record the Idempotency-Key just now; retry with the same key."
        await send_problem(scope, send, 503, "Service Unavailable", detail, headers=[(b"retry-after", b"1")])
        return None
    # The policy closest to refusing is the one the client is told about.
    shown = min(verdicts, key=lambda v: (v.allowed, v.remaining))
    headers = ratelimit_headers(shown)
    if not shown.allowed:
        await refuse(scope, send, shown, headers)
        return None
    return headers, outcome


def ratelimit_headers(shown: Verdict) -> list[tuple[bytes, bytes]]:
    """``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers) of one policy's verdict."""
    return [
        (
            b"ratelimit-policy",
            f'"{shown.policy.name}";q={shown.policy.item.amount};w={shown.policy.window_s}'.encode(),
        ),
        (b"ratelimit", f'"{shown.policy.name}";r={shown.remaining};t={shown.reset_s}'.encode()),
    ]


def _verdict(policy: Policy, count: int, ends_in_s: float) -> Verdict:
    amount = policy.item.amount
    return Verdict(policy, count <= amount, max(0, amount - count), max(1, math.ceil(ends_in_s)))


class RateLimitMiddleware:
    """Rate limits, then ``Idempotency-Key`` handling, with one Redis round trip before the
    request goes on (plus, for a POST with a key, keeping its answer once it is sent)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: GatewaySettings,
        tokens: TokenCodec,
        limiter: Limiter,
        idempotency: Idempotency,
    ) -> None:
        self.app, self.tokens, self.limiter, self.idempotency = app, tokens, limiter, idempotency
        self.user = Policy("user", parse(settings.rate_limit_user))
        self.anonymous = anonymous_policy(settings)
        self.credentials = Policy("credentials", parse(settings.rate_limit_token))
        self.expensive = Policy("export", parse(settings.rate_limit_export))

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

    def checks_of(self, scope: Scope, path: str) -> tuple[str, list[tuple[Policy, str]]]:
        """The caller (the signed-in user, else the client's address) and the policies the request counts
        against: the caller's own, and for sign-ins and exports also theirs."""
        client = client_of(scope)
        user_id = self._user_id(scope)
        caller = f"u:{user_id}" if user_id else client
        checks = [(self.user if user_id else self.anonymous, caller)]
        if (scope["method"] == "POST" and path in _CREDENTIAL_PATHS) or (scope["method"], path) in _CREDENTIAL_ROUTES:
            checks.append((self.credentials, client))
        if (scope["method"], path) in _EXPENSIVE_ROUTES:
            checks.append((self.expensive, caller))
        return caller, checks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(_EXEMPT):
            await self.app(scope, receive, send)
            return
        caller, checks = self.checks_of(scope, path)
        key = self.idempotency.key_of(scope)
        claim = None
        if key is not None and self.idempotency.valid(key):
            try:
                claim, receive = await self.idempotency.claim(scope, receive, key=key, caller=caller)
            except ClientDisconnect:  # gone before its body arrived: nothing is claimed, nothing to answer
                return
        admitted = await admit(self.limiter, checks, claim, scope, send)
        if admitted is None:
            return
        headers, outcome = admitted
        send_with_headers = adding_headers(send, headers)
        if key is None:
            await self.app(scope, receive, send_with_headers)
        elif claim is None:
            await self.idempotency.refuse_key(scope, send_with_headers)
        else:
            await self.idempotency.respond(self.app, scope, receive, send_with_headers, claim=claim, outcome=outcome)
