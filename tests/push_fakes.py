"""Local fakes of the push providers that check the protocol, for the FCM and APNs senders' tests.

``FakeFcm`` (aiohttp, plain HTTP on loopback) serves a service account's ``token_uri``: it
verifies the JWT-bearer assertion (RS256 signature against the test service account's
public key, ``kid``, ``iss``, ``scope``, ``aud`` = token_uri, ``iat``/``exp``) and issues
access tokens; on ``messages:send`` it requires the newest unexpired token as ``Bearer``
and an HTTP v1 message body, then answers as scripted per device token.

``FakeApns`` speaks HTTP/2 (h2) over TLS with a certificate of a throwaway CA: it verifies
``authorization: bearer <ES256 JWT>`` (signature against the team key's public key,
``kid``, ``iss``, ``iat`` not older than an hour), ``apns-topic``, ``:method`` and
``:path /3/device/<token>`` and the JSON payload, echoes ``apns-id``, and answers as
scripted per device token (200, 410 Unregistered, 400 BadDeviceToken, 429, 503 ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import json
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


# -- credentials -----------------------------------------------------------------------------


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def service_account(token_uri: str, *, project_id: str = "snapfix-test") -> tuple[dict[str, Any], rsa.RSAPublicKey]:
    """A Firebase-style service account JSON (fresh RSA key) and its public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": "test-key-1",
        "private_key": _pem(key),
        "client_email": f"push@{project_id}.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": token_uri,
    }
    return info, key.public_key()


def apns_key() -> tuple[str, ec.EllipticCurvePublicKey]:
    """A .p8 token signing key (P-256, PKCS#8 PEM, as Apple hands it out) and its public key."""
    key = ec.generate_private_key(ec.SECP256R1())
    return _pem(key), key.public_key()


@dataclass(frozen=True)
class TestTls:
    ca_file: Path
    server: ssl.SSLContext


def tls_for_loopback(directory: Path) -> TestTls:
    """A throwaway CA (written to ``ca.pem``) and a server context for 127.0.0.1 offering h2."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "snapfix test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False, encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = directory / "server.pem"
    chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + _pem(key).encode())
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(chain)
    server.set_alpn_protocols(["h2"])
    return TestTls(ca_file, server)


# -- FCM ---------------------------------------------------------------------------------------


@dataclass
class FcmAnswer:
    status: int
    code: str = ""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeFcm:
    """Token endpoint and messages:send. ``public_key``/``client_email`` are the service account's."""

    public_key: rsa.RSAPublicKey | None = None
    client_email: str = ""
    service_account: dict[str, Any] = field(default_factory=dict)
    """The test's service account JSON (``with_service_account``), its token_uri this fake's."""
    key_id: str = "test-key-1"
    project_id: str = "snapfix-test"
    expires_in: int = 3600
    answers: dict[str, FcmAnswer] = field(default_factory=dict)
    """Per device token; others are accepted."""
    assertions: list[dict[str, Any]] = field(default_factory=list)
    refused_assertions: list[str] = field(default_factory=list)
    issued: dict[str, float] = field(default_factory=dict)
    """Access token -> when it expires (monotonic)."""
    messages: list[dict[str, Any]] = field(default_factory=list)
    bearer_refused: int = 0
    base_url: str = ""
    _runner: web.AppRunner | None = None

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    async def start(self) -> FakeFcm:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post("/v1/projects/{project}/messages:send", self._send)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def with_service_account(self) -> FakeFcm:
        """Make a service account whose token_uri is this fake's, and trust its key."""
        self.service_account, self.public_key = service_account(self.token_uri, project_id=self.project_id)
        self.client_email = self.service_account["client_email"]
        return self

    def revoke_tokens(self) -> None:
        self.issued.clear()

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != JWT_BEARER:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        assertion = str(form.get("assertion", ""))
        try:
            claims = self.verify_assertion(assertion)
        except (jwt.PyJWTError, AssertionError) as exc:
            self.refused_assertions.append(f"{type(exc).__name__}: {exc}")
            return web.json_response({"error": "invalid_grant", "error_description": "Invalid JWT"}, status=400)
        self.assertions.append(claims)
        token = f"ya29.fake-{len(self.assertions)}"
        self.issued[token] = time.monotonic() + self.expires_in
        return web.json_response({"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"})

    def verify_assertion(self, assertion: str) -> dict[str, Any]:
        assert self.public_key is not None, "the fake needs the service account's public key"
        header = jwt.get_unverified_header(assertion)
        assert header.get("alg") == "RS256", header
        assert header.get("kid") == self.key_id, header
        claims: dict[str, Any] = jwt.decode(
            assertion,
            self.public_key,
            algorithms=["RS256"],
            audience=self.token_uri,
            issuer=self.client_email,
            options={"require": ["iss", "aud", "iat", "exp", "scope"]},
            leeway=5,
        )
        assert claims["scope"].split() == [FCM_SCOPE], claims["scope"]
        assert 0 < claims["exp"] - claims["iat"] <= 3600, claims
        assert abs(claims["iat"] - time.time()) < 60, claims
        return claims

    async def _send(self, request: web.Request) -> web.Response:
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ")
        if not auth.startswith("Bearer ") or self.issued.get(token, 0) < time.monotonic():
            self.bearer_refused += 1
            return _fcm_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if request.match_info["project"] != self.project_id:
            return _fcm_error(403, "PERMISSION_DENIED", "wrong project")
        if request.content_type != "application/json":
            return _fcm_error(400, "INVALID_ARGUMENT", "not JSON")
        body = await request.json()
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, dict) or not isinstance(message.get("token"), str):
            return _fcm_error(400, "INVALID_ARGUMENT", "message.token is required")
        data = message.get("data", {})
        if not all(isinstance(v, str) for v in data.values()):
            return _fcm_error(400, "INVALID_ARGUMENT", "data values must be strings")
        self.messages.append(message)
        answer = self.answers.get(message["token"])
        if answer is not None:
            return _fcm_error(answer.status, answer.code, f"scripted {answer.code}", headers=answer.headers)
        name = f"projects/{self.project_id}/messages/{len(self.messages)}"
        return web.json_response({"name": name})


def _fcm_error(status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> web.Response:
    # The shape FCM HTTP v1 answers with: a Google API error, the FcmError code in its details.
    google_status = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                     429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}.get(status, "UNKNOWN")  # fmt: skip
    error: dict[str, Any] = {"code": status, "message": message, "status": google_status}
    if code and code != google_status:
        error["details"] = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]
    return web.json_response({"error": error}, status=status, headers=headers)


# -- APNs --------------------------------------------------------------------------------------


@dataclass
class ApnsRequest:
    headers: dict[str, str]
    body: dict[str, Any]
    claims: dict[str, Any]
    jwt_header: dict[str, Any]


@dataclass
class FakeApns:
    """An APNs provider API over HTTP/2 + TLS: POST /3/device/<token>, token-based auth."""

    tls: ssl.SSLContext
    public_key: ec.EllipticCurvePublicKey
    key_id: str
    team_id: str
    topic: str
    key_pem: str = ""
    """The .p8 the sender signs with (the test's copy)."""
    ca_file: Path | None = None
    """The CA that vouches for this fake's certificate."""
    answers: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Device token -> (status, reason); others get 200."""
    received: list[ApnsRequest] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> FakeApns:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        ssl_object = writer.get_extra_info("ssl_object")
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        streams: dict[int, tuple[dict[str, str], bytearray]] = {}
        try:
            if ssl_object is not None and ssl_object.selected_alpn_protocol() not in (None, "h2"):
                return
            while not reader.at_eof():
                data = await reader.read(65536)
                if not data:
                    break
                for event in conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        streams[event.stream_id] = (dict(event.headers), bytearray())  # type: ignore[arg-type]
                    elif isinstance(event, h2.events.DataReceived):
                        streams[event.stream_id][1].extend(event.data)
                        conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, h2.events.StreamEnded):
                        headers, body = streams.pop(event.stream_id)
                        self._answer(conn, event.stream_id, headers, bytes(body))
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        return
                writer.write(conn.data_to_send())
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    def _answer(self, conn: h2.connection.H2Connection, stream_id: int, headers: dict[str, str], body: bytes) -> None:
        apns_id = headers.get("apns-id", "00000000-0000-0000-0000-000000000000")
        status, reason = self._judge(headers, body)
        response = [(":status", str(status)), ("apns-id", apns_id)]
        if status == 200:
            conn.send_headers(stream_id, response, end_stream=True)
            return
        payload: dict[str, Any] = {"reason": reason}
        if status == 410:
            payload["timestamp"] = int(time.time() * 1000)
        data = json.dumps(payload).encode()
        conn.send_headers(stream_id, [*response, ("content-type", "application/json")])
        conn.send_data(stream_id, data, end_stream=True)

    def _judge(self, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        if headers.get(":method") != "POST":
            return 405, "MethodNotAllowed"
        path = headers.get(":path", "")
        if not path.startswith("/3/device/") or len(path) == len("/3/device/"):
            return 404, "BadPath"
        token = path.removeprefix("/3/device/")
        auth = headers.get("authorization", "")
        if not auth.startswith("bearer "):
            self.refused.append("no bearer token")
            return 403, "MissingProviderToken"
        provider_token = auth.removeprefix("bearer ")
        try:
            jwt_header = jwt.get_unverified_header(provider_token)
            assert jwt_header.get("alg") == "ES256", jwt_header
            assert jwt_header.get("kid") == self.key_id, jwt_header
            claims = jwt.decode(
                provider_token, self.public_key, algorithms=["ES256"], options={"require": ["iss", "iat"]}
            )
            assert claims["iss"] == self.team_id, claims
            assert time.time() - 3600 <= claims["iat"] <= time.time() + 60, claims
        except (jwt.PyJWTError, AssertionError) as exc:
            self.refused.append(f"{type(exc).__name__}: {exc}")
            return 403, "InvalidProviderToken"
        if headers.get("apns-topic") != self.topic:
            return 400, "DeviceTokenNotForTopic" if headers.get("apns-topic") else "MissingTopic"
        try:
            payload = json.loads(body)
        except ValueError:
            return 400, "PayloadEmpty" if not body else "BadPayload"
        if not isinstance(payload, dict) or "aps" not in payload:
            return 400, "BadPayload"
        if len(body) > 4096:
            return 413, "PayloadTooLarge"
        self.received.append(ApnsRequest(headers, payload, claims, jwt_header))
        return self.answers.get(token, (200, ""))
