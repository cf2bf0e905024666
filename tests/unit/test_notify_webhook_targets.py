"""Where a webhook may go: https only and public addresses only by default; checked again at
every attempt, by every address a name resolves to, and never past a redirect."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from snapfix_notify.channels.webhook.sender import WebhookSender
from snapfix_notify.channels.webhook.signing import new_secret
from snapfix_notify.channels.webhook.targets import TargetPolicy, address_refusal
from snapfix_notify.config import NotifySettings
from tests.stack import free_port
from tests.webhook_receiver import receiver

pytestmark = pytest.mark.unit

PUBLIC_ONLY = TargetPolicy(https_only=True, allow_private=False)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",  # carrier-grade NAT
        "169.254.169.254",  # cloud metadata
        "0.0.0.0",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fe80::1%eth0",
        "fc00::1",
        "fd12:3456::1",
        "fec0::1",  # site-local (deprecated)
        "ff02::1",
        "ff05::2",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:7f00:1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",  # IPv4-compatible (deprecated)
        "64:ff9b::a00:1",  # NAT64 to 10.0.0.1
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    ],
)
def test_non_public_addresses_are_refused_in_every_form(address: str) -> None:
    assert address_refusal(address) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert address_refusal(address) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[::ffff:7f00:1]/hook",
        "https://[fe80::1%25eth0]/hook",
        "https://2130706433/hook",  # 127.0.0.1 as one number
        "https://0x7f.1/hook",
        "https://127.1/hook",
        "https://localhost/hook",
        "https://LOCALHOST./hook",
        "https://notify.internal/hook",
        "https://printer.local/hook",
        "https://issues:8001/hook",  # a single label: a service name on the deployment's network
        "http://integrator.example/hook",  # not https
        "ftp://integrator.example/hook",
    ],
)
def test_urls_are_refused_by_the_default_policy(url: str) -> None:
    assert PUBLIC_ONLY.url_refusal(url) is not None


@pytest.mark.parametrize("url", ["https://integrator.example/hook?x=1", "https://93.184.215.14:8443/hook"])
def test_public_https_urls_pass_the_default_policy(url: str) -> None:
    assert PUBLIC_ONLY.url_refusal(url) is None


def test_the_defaults_are_https_only_and_public_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SNAPFIX_WEBHOOK_HTTPS_ONLY", raising=False)
    monkeypatch.delenv("SNAPFIX_WEBHOOK_ALLOW_PRIVATE", raising=False)
    settings = NotifySettings()
    assert settings.webhook_https_only is True
    assert settings.webhook_allow_private is False


class StaticDns(AbstractResolver):
    """A DNS that answers what the test says (an attacker's zone, re-pointed at will)."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        return [
            ResolveResult(hostname=host, host=a, port=port, family=family, proto=0, flags=0) for a in self.answers[host]
        ]

    async def close(self) -> None:
        return None


@asynccontextmanager
async def sender(
    *, allow_private: bool, https_only: bool = False, dns: StaticDns | None = None
) -> AsyncIterator[WebhookSender]:
    made = WebhookSender(timeout_s=2, max_connections=2, allow_private=allow_private, https_only=https_only, dns=dns)
    await made.open()
    try:
        yield made
    finally:
        await made.close()


async def test_a_literal_private_address_stored_earlier_is_refused_at_send_time() -> None:
    async with receiver() as hook:
        async with sender(allow_private=False) as refusing:
            attempt = await refusing.send(hook.url + "/hook", new_secret(), "msg_1", "{}")
        async with sender(allow_private=True) as allowing:  # the receiver is there, on loopback
            reached = await allowing.send(hook.url + "/hook", new_secret(), "msg_2", "{}")
    assert attempt.refused
    assert attempt.status is None
    assert "127.0.0.1 is a loopback address" in (attempt.error or "")
    assert reached.status == 200
    assert [r.headers["webhook-id"] for r in hook.requests] == ["msg_2"]


async def test_an_ipv4_mapped_loopback_address_is_refused_at_send_time() -> None:
    async with receiver() as hook:
        url = hook.url.replace("127.0.0.1", "[::ffff:127.0.0.1]") + "/hook"
        async with sender(allow_private=False) as refusing:
            attempt = await refusing.send(url, new_secret(), "msg_1", "{}")
    assert attempt.refused
    assert "loopback" in (attempt.error or "")
    assert hook.requests == []


async def test_a_name_resolving_to_a_private_address_is_refused_when_sending() -> None:
    async with receiver() as hook:
        port = hook.url.rsplit(":", 1)[1]
        dns = StaticDns({"hook.attacker.example": ["127.0.0.1"]})
        async with sender(allow_private=False, dns=dns) as refusing:
            attempt = await refusing.send(f"http://hook.attacker.example:{port}/hook", new_secret(), "msg_1", "{}")
        async with sender(allow_private=True, dns=dns) as allowing:  # the same name does reach the receiver
            reached = await allowing.send(f"http://hook.attacker.example:{port}/hook", new_secret(), "msg_2", "{}")
    assert "hook.attacker.example" in dns.asked
    assert attempt.refused
    assert "hook.attacker.example resolves to no public address (127.0.0.1 is a loopback address)" in (
        attempt.error or ""
    )
    assert reached.status == 200
    assert [r.headers["webhook-id"] for r in hook.requests] == ["msg_2"]


async def test_of_a_name_resolving_to_public_and_private_addresses_only_the_public_ones_are_tried() -> None:
    async with receiver() as hook:
        port = hook.url.rsplit(":", 1)[1]
        dns = StaticDns({"mixed.attacker.example": ["127.0.0.1", "93.184.215.14"]})
        async with sender(allow_private=False, dns=dns) as refusing:
            attempt = await refusing.send(f"http://mixed.attacker.example:{port}/hook", new_secret(), "msg_1", "{}")
    assert not attempt.refused  # a public address was left: it was tried (and did not answer here)
    assert attempt.status is None
    assert hook.requests == []  # the loopback address was never connected to


async def test_https_only_is_checked_again_at_send_time() -> None:
    async with receiver() as hook, sender(allow_private=True, https_only=True) as refusing:
        attempt = await refusing.send(hook.url + "/hook", new_secret(), "msg_1", "{}")
    assert attempt.refused
    assert "https" in (attempt.error or "")
    assert hook.requests == []


async def test_a_redirect_is_never_followed() -> None:
    followed: list[str] = []

    async def hook(_request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(location="/internal")

    async def internal(request: web.Request) -> web.Response:
        followed.append(request.path)
        return web.Response(text="secret inside")

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_route("*", "/internal", internal)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with sender(allow_private=True) as allowing:
            attempt = await allowing.send(f"http://127.0.0.1:{port}/hook", new_secret(), "msg_1", "{}")
    finally:
        await runner.cleanup()
    assert attempt.status == 307
    assert followed == []
    assert "secret inside" not in (attempt.error or "")
