"""FCM HTTP v1: ``POST {base}/v1/projects/{project_id}/messages:send`` with a service account's OAuth token.

The access token comes from google-auth's ``service_account.Credentials``: an RS256 JWT
assertion (``kid`` the key id, ``iss`` the service account, ``scope`` firebase.messaging,
``aud`` its ``token_uri``, one hour between ``iat`` and ``exp``) exchanged at ``token_uri``
(RFC 7523's JWT-bearer grant), kept until google-auth deems it close to expiry (3 min 45 s
before), then refreshed. google-auth's async service-account credentials are a private,
experimental module (``google.oauth2._service_account_async``), so the stable synchronous
``refresh`` runs in a worker thread, one at a time (a refresh happens about once an hour;
the event loop never waits on it). The messages themselves go over httpx.

What FCM answers decides what follows (its documented ``FcmError`` codes):
``UNREGISTERED`` or 404: the token is dead, the device is forgotten (``DeviceGone``);
429, 500, 503 (``QUOTA_EXCEEDED``, ``INTERNAL``, ``UNAVAILABLE``): retried, not before
``Retry-After``; 401: the access token was refused, it is refreshed before the retry;
``INVALID_ARGUMENT`` and any other 4xx: failed for good.

Secrets: the service account's private key never leaves google-auth, and the access token
travels only in the ``Authorization`` header (never a URL); neither is logged.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
from google.auth import exceptions as google_auth_errors
from google.auth.transport.requests import Request as GoogleAuthRequest
from google.oauth2 import service_account

from snapfix_notify.channels import Notice, PermanentDeliveryError, TransientDeliveryError
from snapfix_notify.channels.push.devices import Device
from snapfix_notify.channels.push.messages import DeviceGone, PushMessage, retry_after_s

log = logging.getLogger(__name__)

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
FCM_BASE_URL = "https://fcm.googleapis.com"
_GONE_CODES = {"UNREGISTERED"}
_RETRY_CODES = {"QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL"}
_RETRY_STATUSES = {408, 429, 500, 502, 503, 504}


def load_service_account(raw: str) -> dict[str, Any]:
    """The service account JSON (the file Firebase's console downloads), checked for what the flow needs."""
    try:
        info = json.loads(raw)
    except ValueError as exc:
        raise ValueError("the FCM service account is not JSON") from exc  # no excerpt: it holds a private key
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ValueError('the FCM service account JSON is not of "type": "service_account"')
    missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
    if missing:
        raise ValueError(f"the FCM service account JSON lacks {', '.join(missing)}")
    return info


def fcm_error_code(body: Any) -> tuple[str, str]:
    """(``errorCode`` of the FcmError detail or else the Google API ``status``, message) of an error body."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    message = str(error.get("message", ""))
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.firebase.fcm.v1.FcmError"):
            return str(detail.get("errorCode", "")), message
    return str(error.get("status", "")), message


class FcmTransport:
    """``PushTransport`` for ``fcm`` devices: FCM HTTP v1 with the service account's access token."""

    def __init__(
        self,
        service_account_info: Mapping[str, Any],
        *,
        project_id: str | None = None,
        base_url: str = FCM_BASE_URL,
        timeout_s: float = 10.0,
        max_connections: int = 16,
    ) -> None:
        self.project_id = project_id or str(service_account_info.get("project_id") or "")
        if not self.project_id:
            raise ValueError("FCM needs a project id: SNAPFIX_FCM_PROJECT_ID, or project_id in the service account")
        # aud = token_uri (RFC 7523: the token endpoint is the audience). google-auth writes Google's
        # https://oauth2.googleapis.com/token whatever the token_uri: the same value for a real service
        # account, and the fake's endpoint in the tests.
        self.credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            dict(service_account_info),
            scopes=[FCM_SCOPE],
            additional_claims={"aud": service_account_info["token_uri"]},
        )
        self.url = f"{base_url.rstrip('/')}/v1/projects/{quote(self.project_id, safe='')}/messages:send"
        self.timeout_s, self.max_connections = timeout_s, max_connections
        self._client: httpx.AsyncClient | None = None
        self._auth_request: GoogleAuthRequest | None = None
        self._refreshing = asyncio.Lock()

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout_s),
            limits=httpx.Limits(max_connections=self.max_connections),
            follow_redirects=False,
        )
        self._auth_request = GoogleAuthRequest()  # its own requests.Session, used by the refreshing thread

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._auth_request is not None:
            self._auth_request.session.close()
            self._auth_request = None

    async def access_token(self) -> str:
        """The cached access token, refreshed first when google-auth deems it expired or close to it."""
        if not self.credentials.valid:
            async with self._refreshing:  # one refresh at a time; the others wait for its token
                if not self.credentials.valid:
                    await self._refresh()
        token = self.credentials.token
        if not token:
            raise TransientDeliveryError("FCM: no access token")
        return str(token)

    async def _refresh(self) -> None:
        if self._auth_request is None:
            raise TransientDeliveryError("FCM transport not started")
        request = functools.partial(self._auth_request, timeout=self.timeout_s)
        try:
            await asyncio.to_thread(self.credentials.refresh, request)
        except google_auth_errors.RefreshError as exc:
            # invalid_grant (a deleted key, a wrong clock) fails every send alike until an operator acts;
            # retried all the same when google-auth calls it retryable (the token endpoint was unavailable).
            reason = f"FCM access token refused: {exc.args[0] if exc.args else type(exc).__name__}"
            if getattr(exc, "retryable", False):
                raise TransientDeliveryError(reason) from exc
            log.error("%s (check SNAPFIX_FCM_SERVICE_ACCOUNT_*)", reason)
            raise PermanentDeliveryError(reason) from exc
        except google_auth_errors.TransportError as exc:
            raise TransientDeliveryError(f"FCM token endpoint unreachable: {type(exc).__name__}") from exc
        log.info("FCM access token refreshed (expires %s)", self.credentials.expiry)

    async def send(self, _device: Device, _notice: Notice, message: PushMessage) -> None:
        if self._client is None:
            raise TransientDeliveryError("FCM transport not started")
        token = await self.access_token()
        try:
            answer = await self._client.post(
                self.url,
                json=message.body,
                headers={"authorization": f"Bearer {token}", "content-type": "application/json; charset=utf-8"},
            )
        except httpx.HTTPError as exc:
            raise TransientDeliveryError(f"FCM unreachable: {type(exc).__name__}") from exc
        if answer.is_success:
            return
        try:
            body = answer.json()
        except ValueError:
            body = None
        code, text = fcm_error_code(body)
        status = answer.status_code
        detail = f"FCM {status} {code or '-'}: {text[:200]}"
        if status == 401:
            # Revoked or expired early: drop it, so that the retry takes a fresh one.
            self.credentials.token = None
            raise TransientDeliveryError(detail)
        if code in _GONE_CODES or status == 404:
            raise DeviceGone(detail)
        if code in _RETRY_CODES or status in _RETRY_STATUSES or status >= 500:
            raise TransientDeliveryError(detail, retry_after_s=retry_after_s(answer.headers.get("retry-after")))
        raise PermanentDeliveryError(detail)  # INVALID_ARGUMENT, SENDER_ID_MISMATCH, THIRD_PARTY_AUTH_ERROR ...
