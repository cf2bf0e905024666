"""One connection's side of the live stream: its queue of ready frames (``Listener``), the frames, and the
stream ids they carry. The hub (``live_hub``) fills the queues; the response (``live_response``) empties one."""

from __future__ import annotations

import asyncio
from collections import deque

from snapfix_gateway.identity.sessions import _keys as session_keys

StreamId = tuple[int, int]

QUEUE_FRAMES = 64  # a connection this far behind catches up from its own stream instead
# Entries a stream remembers having sent, to send one that came out of order exactly once.
RECENT_IDS = 32


class StreamRefused(Exception):
    """Past a cap: ``per_user`` (the user has enough streams open) or ``process`` (this gateway is full)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def session_key(session_id: str) -> str:
    return session_keys(session_id)[0]  # the session's hash, as Sessions keeps it


def parse_id(value: str | bytes) -> StreamId:
    text = value.decode() if isinstance(value, bytes) else value
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def frame(entry_id: str, kind: bytes | str, data: bytes) -> bytes:
    kind_b = kind.encode() if isinstance(kind, str) else kind
    return b"id: " + entry_id.encode() + b"\nevent: " + kind_b + b"\ndata: " + data + b"\n\n"


class Listener:
    """One open stream: its user, where it is, and the frames ready for it."""

    __slots__ = (
        "_sent",
        "_sent_ids",
        "_wake",
        "catch_up",
        "closed",
        "floor",
        "heartbeat",
        "pending",
        "position",
        "session_id",
        "user_id",
    )

    def __init__(self, user_id: str, session_id: str) -> None:
        self.user_id, self.session_id = user_id, session_id
        # ``position``: the newest entry sent; ``floor``: where the stream started (the client has
        # what is older). Two replicas' fan-outs may put one user's entries on the feed out of
        # order, so an older entry above the floor is still sent, unless recently sent already.
        self.position: StreamId = (0, 0)
        self.floor: StreamId = (0, 0)
        self._sent: deque[StreamId] = deque(maxlen=RECENT_IDS)
        self._sent_ids: set[StreamId] = set()
        self.pending: deque[tuple[StreamId, bytes]] = deque()
        self.catch_up = False
        self.heartbeat = False
        self.closed = False
        self._wake = asyncio.Event()

    def offer(self, entry_id: StreamId, data: bytes) -> None:
        if self.catch_up:
            return  # what it would have been told comes with the catch-up
        if len(self.pending) >= QUEUE_FRAMES:
            self.pending.clear()
            self.catch_up = True
        else:
            self.pending.append((entry_id, data))
        self._wake.set()

    def start(self, position: StreamId) -> None:
        self.position = self.floor = position

    def to_send(self, entry_id: StreamId) -> bool:
        """Whether ``entry_id`` goes out now (and, if so, it is noted as sent)."""
        if entry_id <= self.floor or entry_id in self._sent_ids:
            return False
        if len(self._sent) == self._sent.maxlen:
            self._sent_ids.discard(self._sent[0])
        self._sent.append(entry_id)
        self._sent_ids.add(entry_id)
        self.position = max(self.position, entry_id)
        return True

    def wake(self, *, catch_up: bool = False, heartbeat: bool = False, close: bool = False) -> None:
        self.catch_up |= catch_up
        self.heartbeat |= heartbeat
        self.closed |= close
        self._wake.set()

    async def wait(self) -> None:
        await self._wake.wait()
        self._wake.clear()
