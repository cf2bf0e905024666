"""A real SMTP server (aiosmtpd) on loopback for tests: keeps every message in memory.

``refuse`` maps an address to the SMTP reply its RCPT TO gets (``"550 5.1.1 No such user"``
or ``"451 4.3.0 Try later"``), to exercise permanent and transient failures.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller

from tests.stack import free_port


@dataclass(frozen=True)
class Summary:
    to: str
    subject: str
    message_id: str


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_RCPT(self, _server: Any, _session: Any, envelope: Any, address: str, _options: Any) -> str:
        reply = self.box.refuse.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        summary = Summary(str(message["To"]), str(message["Subject"]), str(message["Message-ID"]))
        with self.box.lock:
            self.box.messages.append(message)
            self.box.summaries.append(summary)
            self.box.raw.append((envelope.mail_from, list(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"


class Mailbox:
    def __init__(self) -> None:
        self.port = free_port()
        self.host = "127.0.0.1"
        self.messages: list[EmailMessage] = []
        self.summaries: list[Summary] = []  # headers read once, for tests that count thousands
        self.raw: list[tuple[str, list[str], bytes]] = []  # (sender, recipients, bytes) as received
        self.refuse: dict[str, str] = {}
        self.lock = threading.Lock()
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port)

    def start(self) -> Mailbox:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address.lower() in str(m["To"]).lower()]

    def matching(self, match: Callable[[EmailMessage], bool]) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if match(m)]

    async def wait_for(
        self, match: Callable[[EmailMessage], bool], *, count: int = 1, timeout_s: float = 30.0
    ) -> list[EmailMessage]:
        """Messages that ``match``, once at least ``count`` arrived (fails after ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.matching(match)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.1)
        found = self.matching(match)
        subjects = [str(m["Subject"]) for m in found[-5:]]
        pytest.fail(f"only {len(found)} of {count} expected emails arrived within {timeout_s}s; the last: {subjects}")

    def summary(self) -> list[Summary]:
        with self.lock:
            return list(self.summaries)

    def summary_since(self, start: int) -> list[Summary]:
        """The summaries of the messages from the ``start``-th on (for counting without copying all)."""
        with self.lock:
            return self.summaries[start:]

    async def settle(self, *, quiet_s: float = 1.5, timeout_s: float = 30.0) -> None:
        """Wait until no new message arrived for ``quiet_s`` (then nothing more is on its way)."""
        deadline = time.monotonic() + timeout_s
        seen, since = len(self.messages), time.monotonic()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            if len(self.messages) != seen:
                seen, since = len(self.messages), time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def body_html(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(value for name, value in attrs if name == "href" and value)


_URL = re.compile(r"https?://[^\s<>\"')\]]+")


def links(message: EmailMessage) -> list[str]:
    """Every absolute http(s) link in a message: the HTML part's hrefs (entities decoded), then the plain text's URLs."""
    found: list[str] = []
    if message.get_body(preferencelist=("html",)) is not None:
        parser = _Hrefs()
        parser.feed(body_html(message))
        found += parser.hrefs
    if message.get_body(preferencelist=("plain",)) is not None:
        found += _URL.findall(body_text(message))
    return [link for link in dict.fromkeys(found) if urlsplit(link).scheme in {"http", "https"}]


def link_with_path(message: EmailMessage, path_prefix: str) -> str | None:
    """The first link in ``message`` whose path starts with ``path_prefix`` (``/password-reset``, ``/issues/``)."""
    return next((link for link in links(message) if urlsplit(link).path.startswith(path_prefix)), None)


async def emailed_link(mailbox: Mailbox, to: str, path_prefix: str, *, since: int = 0, timeout_s: float = 30.0) -> str:
    """The link whose path starts with ``path_prefix`` in the latest email to ``to`` that has one.

    Waits (up to ``timeout_s``) for such an email; ``since`` ignores the first ``since`` messages the
    mailbox received (take ``len(mailbox.messages)`` before the action that sends the email).
    """

    def match(message: EmailMessage) -> bool:
        return to.lower() in str(message["To"]).lower() and link_with_path(message, path_prefix) is not None

    deadline = time.monotonic() + timeout_s
    while True:
        with mailbox.lock:
            recent = mailbox.messages[since:]
        found = [m for m in recent if match(m)]
        if found:
            link = link_with_path(found[-1], path_prefix)
            assert link is not None
            return link
        if time.monotonic() >= deadline:
            subjects = [str(m["Subject"]) for m in recent if to.lower() in str(m["To"]).lower()][-5:]
            pytest.fail(
                f"no email to {to} with a link to {path_prefix}… arrived within {timeout_s}s; "
                f"the last emails to {to}: {subjects}",
                pytrace=False,
            )
        await asyncio.sleep(0.1)
