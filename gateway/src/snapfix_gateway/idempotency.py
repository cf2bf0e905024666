"""``Idempotency-Key`` on every POST (draft-ietf-httpapi-idempotency-key-header).

The first request with a key is processed and its answer kept in Redis; a retry with
the same key and the same request gets that answer again (``Idempotent-Replayed: true``)
without a second command. The same key with another request is ``422``; a retry that
arrives while the first is still being processed is ``409``. Keys are scoped to the
caller (user, or client IP when anonymous). Server errors are not kept, so they can be
retried. When Redis does not answer, requests go through unprotected rather than failing.

The key is claimed in the rate limiter's round trip (``ratelimit.py``: one script for
both); this module reads the request, names the key, and answers from the claim's outcome.

With ``keep_every_s`` (the rate limits' settle interval) the answers are not written one
round trip each: they are kept in the process and written together every interval (one
pipeline), so a request with a key makes one Redis round trip, its claim. Until its answer
is written, a retry that reaches this process is answered from memory; one that reaches
another replica meanwhile finds the key still pending (``409``, ``Retry-After: 1``), as it
would while the first request runs. Should the process die before writing, the key's claim
lapses (``_PENDING_TTL_S``) and a retry is processed again: a report or comment gets the
same id (derived from the key) and is recognised downstream. A claim dropped after a server
error is deleted at once, so that the retry can go ahead.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
from dataclasses import dataclass

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from snapfix_shared.problems import send_problem
from snapfix_shared.redis_client import RedisBusy
from snapfix_shared.tasks import Flusher

log = logging.getLogger(__name__)

HEADER = b"idempotency-key"
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_PENDING_TTL_S = 60
_NOT_KEPT = {b"content-length", b"x-request-id", b"ratelimit", b"ratelimit-policy"}


def store_key(caller: str, key: str) -> str:
    """Where ``caller``'s key is claimed and its answer kept (in the hash slot of its rate-limit counters)."""
    return f"gw:idem:{{{caller}}}:{hashlib.sha256(key.encode('latin-1')).hexdigest()}"


@dataclass(frozen=True)
class Claim:
    """A request's key, to be claimed (``SET NX`` of a pending marker) by the rate limiter's script."""

    caller: str  # the hash tag it shares with the caller's rate-limit counters
    store_key: str
    fingerprint: str
    pending_ttl_s: int = _PENDING_TTL_S

    @property
    def pending(self) -> bytes:
        return orjson.dumps({"fp": self.fingerprint, "state": "pending"})


@dataclass(frozen=True)
class ClaimOutcome:
    claimed: bool
    kept: bytes | None  # what the key held already, when not claimed


class Idempotency:
    def __init__(self, redis: Redis, *, ttl_s: int, keep_every_s: float | None = None) -> None:
        self.redis, self.ttl_s, self.keep_every_s = redis, ttl_s, keep_every_s
        # Answers not written yet (None: the claim to drop), and those being written right now.
        # Whoever writes takes all of them: requests finishing together share one round trip.
        self._unwritten: dict[str, bytes | None] = {}
        self._in_flight: dict[str, bytes | None] = {}
        # The last batch written, kept until the next is: a repeat whose claim Redis answered
        # "pending" just before that batch was written finds the answer here, not a 409.
        self._written: dict[str, bytes | None] = {}
        # One write at a time (the flusher's, a dropped claim's at once): two at once would each
        # replace the batch in flight, and the first to end would hide the other's until written.
        self._writing = asyncio.Lock()
        # Started and stopped with the process; its last flush: a retry after this process is gone finds the answer.
        self.flusher = Flusher(keep_every_s, self.write_kept, name="idempotency-keep")

    async def write_kept(self) -> None:
        """Write the answers kept (and drop the claims given up) since the last time, in one pipeline."""
        async with self._writing:
            if not self._unwritten:
                return
            batch, self._unwritten = self._unwritten, {}
            self._in_flight = batch
            try:
                await self._write(list(batch.items()))
            except RedisBusy:  # a burst, not an outage: written with the next ones
                self._unwritten = batch | self._unwritten
            else:
                self._written = batch
            finally:
                self._in_flight = {}

    @staticmethod
    def key_of(scope: Scope) -> str | None:
        if scope["method"] != "POST":
            return None
        for name, value in scope["headers"]:
            if name == HEADER:
                return str(value.decode("latin-1"))
        return None

    @staticmethod
    def valid(key: str) -> bool:
        return _VALID_KEY.match(key) is not None

    async def claim(self, scope: Scope, receive: Receive, *, key: str, caller: str) -> tuple[Claim, Receive]:
        """The claim for this request (its whole body read, to fingerprint it) and a receive that hands the body on.

        The body is at most the gateway's cap (``body_limit.py``: its receive refuses more),
        gathered in a list and joined once: linear in its size.
        """
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left: nothing to claim for
                raise ClientDisconnect
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        whole: Message = {"type": "http.request", "body": body, "more_body": False}
        return self.claim_of(scope, body, key=key, caller=caller), replaying([whole], receive)

    @staticmethod
    def claim_of(scope: Scope, body: bytes, *, key: str, caller: str) -> Claim:
        """The claim for a request whose whole body has been read."""
        fingerprint = hashlib.sha256(
            b"\n".join([scope["path"].encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        return Claim(caller, store_key(caller, key), fingerprint)

    async def refuse_key(self, scope: Scope, send: Send) -> None:
        await send_problem(scope, send, 400, "Bad Request", "Idempotency-Key must be 1-255 visible ASCII characters.")

    async def respond(
        self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, *, claim: Claim, outcome: ClaimOutcome | None
    ) -> None:
        if outcome is None:
            log.warning("Idempotency-Key not enforced: Redis is not answering")
            await app(scope, receive, send)
        elif not outcome.claimed and outcome.kept is not None:
            # Pending in Redis, answered here already: its answer is not written yet.
            key = claim.store_key
            kept = self._unwritten.get(key) or self._in_flight.get(key) or self._written.get(key) or outcome.kept
            await self._repeat(scope, send, orjson.loads(kept), claim.fingerprint)
        else:
            await self._first(app, scope, receive, send, store_key=claim.store_key, fingerprint=claim.fingerprint)

    async def _repeat(self, scope: Scope, send: Send, kept: dict[str, object], fingerprint: str) -> None:
        if kept["fp"] != fingerprint:
            detail = "This Idempotency-Key was used for a different request."
            await send_problem(scope, send, 422, "Unprocessable Content", detail)
        elif kept["state"] == "pending":
            detail = "A request with this Idempotency-Key is still being processed."
            await send_problem(scope, send, 409, "Conflict", detail, headers=[(b"retry-after", b"1")])
        else:
            stored_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in kept["headers"]]  # type: ignore[attr-defined]
            body = base64.b64decode(kept["body"])  # type: ignore[arg-type]
            await send(
                {
                    "type": "http.response.start",
                    "status": kept["status"],
                    "headers": [
                        *stored_headers,
                        (b"content-length", str(len(body)).encode()),
                        (b"idempotent-replayed", b"true"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})

    async def _first(
        self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, *, store_key: str, fingerprint: str
    ) -> None:
        status = 500
        out_headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, out_headers
            if message["type"] == "http.response.start":
                status, out_headers = message["status"], list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await app(scope, receive, capture)
        finally:
            no_store = any(k.lower() == b"cache-control" and b"no-store" in v for k, v in out_headers)
            # A failure is not an answer: the retry tries again. Answers marked no-store
            # (tokens) are never kept; such a retry is simply processed again.
            dropped = status >= 500 or no_store
            if dropped:
                self._unwritten[store_key] = None
            else:
                kept = {
                    "fp": fingerprint,
                    "state": "done",
                    "status": status,
                    "headers": [
                        (k.decode("latin-1"), v.decode("latin-1")) for k, v in out_headers if k.lower() not in _NOT_KEPT
                    ],
                    "body": base64.b64encode(b"".join(chunks)).decode(),
                }
                self._unwritten[store_key] = orjson.dumps(kept)
            # A dropped claim is written at once, so that the retry can go ahead; an answer too
            # without keep_every_s. Shielded: a request cancelled meanwhile does not lose the batch.
            if dropped or self.keep_every_s is None:
                await asyncio.shield(self.write_kept())

    async def _write(self, batch: list[tuple[str, bytes | None]]) -> None:
        """Raises RedisBusy (no connection free now); other Redis errors lose the batch, logged."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, value in batch:
                    if value is None:
                        pipe.delete(key)
                    else:
                        pipe.set(key, value, ex=self.ttl_s)
                await pipe.execute()
        except RedisBusy:
            raise
        except RedisError as exc:
            log.warning("%d Idempotency-Key answers not kept (%r)", len(batch), exc)


def replaying(read: list[Message], receive: Receive) -> Receive:
    """A receive that gives the messages already read first, then the client's own (a disconnect, eventually)."""
    pending = list(read)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
