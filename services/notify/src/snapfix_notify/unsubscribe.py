"""Signed one-click unsubscribe tokens (RFC 8058): who, and which moment's emails (or all).

A token is an ``itsdangerous`` signature over (user id, moment); it needs no storage and
cannot be forged or pointed at another user. It does not expire: an old email's link
keeps working, as mail clients expect.

Two links carry it: ``url`` is the API's one-click POST (the ``List-Unsubscribe`` header:
mail clients POST there, RFC 8058); ``page_url`` is the link a person follows in the body:
the web app's landing page (which confirms, then POSTs) when ``web_base_url`` is set, else
the API's own page.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer

ALL = "all"


@dataclass(frozen=True)
class Unsubscription:
    user_id: str
    moment: str | None  # None: every moment


class InvalidToken(Exception):
    """Forged, truncated or for another purpose."""


class UnsubscribeTokens:
    def __init__(self, secret: str, *, base_url: str, web_base_url: str | None = None) -> None:
        self._serializer = URLSafeSerializer(secret, salt="snapfix-unsubscribe")
        self.base_url = base_url.rstrip("/")
        self.web_base_url = web_base_url.rstrip("/") if web_base_url else None

    def token(self, user_id: str, moment: str | None) -> str:
        return str(self._serializer.dumps([user_id, moment or ALL]))

    def url(self, user_id: str, moment: str | None) -> str:
        """The API's one-click unsubscribe (GET shows a page, POST unsubscribes): for List-Unsubscribe."""
        return f"{self.base_url}/v1/notifications/unsubscribe?token={quote(self.token(user_id, moment))}"

    def page_url(self, user_id: str, moment: str | None) -> str:
        """The link shown in the message: the web app's landing page when there is one, else ``url``."""
        if self.web_base_url is None:
            return self.url(user_id, moment)
        return f"{self.web_base_url}/unsubscribe?token={quote(self.token(user_id, moment))}"

    def read(self, token: str) -> Unsubscription:
        try:
            value = self._serializer.loads(token)
        except BadSignature as exc:
            raise InvalidToken(str(exc)) from exc
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
            raise InvalidToken("not an unsubscribe token")
        user_id, moment = value
        return Unsubscription(user_id, None if moment == ALL else moment)
