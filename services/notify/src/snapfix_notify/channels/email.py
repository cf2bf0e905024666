"""The email channel: SMTP with aiosmtplib, a few pooled connections, text and HTML parts.

- ``Message-ID`` is derived from the notification's (event, recipient) key, so a message
  repeated by a crash between the server's acceptance and our "sent" mark carries the
  same id and the receiving side can drop it;
- ``List-Unsubscribe`` (https, and mailto when configured) with
  ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058): always the API's one-click
  POST URL, even when the body links to the web app's unsubscribe page;
- SMTP 4xx replies, timeouts and dropped connections are transient (retried); 5xx are
  permanent (recorded, announced as NotificationFailed).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr

import aiosmtplib

from snapfix_notify.channels import Notice, PermanentDeliveryError, TransientDeliveryError
from snapfix_notify.config import NotifySettings
from snapfix_shared.messages.base import utcnow

log = logging.getLogger(__name__)
IDLE_CHECK_S = 10.0  # a pooled connection idle this long is probed (NOOP) before use


def message_id(key: str, domain: str) -> str:
    """The same ``<...@domain>`` for the same notification key, every time."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"<{digest}@{domain}>"


def build_message(
    notice: Notice, *, sender: str, domain: str, unsubscribe_mailto: str | None = None
) -> MIMEMultipart | MIMEText:
    """The MIME message for ``notice``: ``data`` carries ``email`` (the address) and
    ``unsubscribe_url`` (absent for account emails, which one cannot unsubscribe from).

    Built with the ``compat32`` classes: ``EmailMessage`` parses every header it is given
    through its header registry, four times the cost (4 ms a message, the bulk of a send).
    Non-ASCII subjects and names become RFC 2047 encoded words."""
    address = notice.data.get("email")
    if not address:
        raise PermanentDeliveryError("no email address")
    text = MIMEText(notice.text, "plain", "utf-8")
    msg: MIMEMultipart | MIMEText
    if notice.html:
        # A boundary of our own spares the generator its search of the parts for a random one's
        # absence: no line of a base64 part can start with "--".
        msg = MIMEMultipart("alternative", boundary=f"=_{hashlib.sha256(notice.key.encode()).hexdigest()[:32]}")
        msg.attach(text)
        msg.attach(MIMEText(notice.html, "html", "utf-8"))
    else:
        msg = text
    msg["From"] = sender
    msg["To"] = formataddr((notice.data.get("display_name", ""), address))
    subject = notice.title
    msg["Subject"] = subject if subject.isascii() else Header(subject, "utf-8", header_name="Subject").encode()
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = message_id(notice.key, domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    unsubscribe_url = notice.data.get("unsubscribe_url")
    if unsubscribe_url:
        targets = [f"<{unsubscribe_url}>"]
        if unsubscribe_mailto:
            targets.append(f"<mailto:{unsubscribe_mailto}?subject=unsubscribe>")
        msg["List-Unsubscribe"] = ", ".join(targets)
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return msg


class _Connection:
    def __init__(self, client: aiosmtplib.SMTP) -> None:
        self.client, self.used_at = client, time.monotonic()


class EmailChannel:
    name = "email"

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings
        self.sender = settings.smtp_from
        self.domain = parseaddr(settings.smtp_from)[1].rpartition("@")[2] or "snapfix.example"
        self._idle: asyncio.LifoQueue[_Connection] = asyncio.LifoQueue()

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            timeout=s.smtp_timeout_s,
            use_tls=s.smtp_tls == "implicit",
            start_tls=True if s.smtp_tls == "starttls" else (None if s.smtp_tls == "implicit" else False),
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
        )

    async def _acquire(self) -> _Connection:
        while not self._idle.empty():
            conn = self._idle.get_nowait()
            if not conn.client.is_connected:
                continue
            if time.monotonic() - conn.used_at < IDLE_CHECK_S:
                return conn
            try:
                await conn.client.noop()
                return conn
            except aiosmtplib.SMTPException:
                await self._discard(conn)
        client = self._client()
        try:
            await client.connect()
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TransientDeliveryError(f"SMTP connect to {self.settings.smtp_host}: {exc}") from exc
        return _Connection(client)

    @staticmethod
    async def _discard(conn: _Connection) -> None:
        with contextlib.suppress(Exception):
            conn.client.close()

    async def deliver(self, notice: Notice) -> None:
        msg = build_message(
            notice, sender=self.sender, domain=self.domain, unsubscribe_mailto=self.settings.unsubscribe_mailto
        )
        conn = await self._acquire()
        try:
            await conn.client.send_message(msg)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            self._idle.put_nowait(conn)  # the session is fine; this address is not
            codes = [r.code for r in exc.recipients]
            error = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            if all(500 <= c < 600 for c in codes):
                raise PermanentDeliveryError(error) from exc
            raise TransientDeliveryError(error) from exc
        except aiosmtplib.SMTPResponseException as exc:
            await self._discard(conn)
            if 500 <= exc.code < 600:
                raise PermanentDeliveryError(f"{exc.code} {exc.message}") from exc
            raise TransientDeliveryError(f"{exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self._discard(conn)
            raise TransientDeliveryError(f"{type(exc).__name__}: {exc}") from exc
        conn.used_at = time.monotonic()
        self._idle.put_nowait(conn)

    async def close(self) -> None:
        while not self._idle.empty():
            conn = self._idle.get_nowait()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.client.quit(), 2)
            await self._discard(conn)
