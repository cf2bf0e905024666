"""Fixtures the integration tests share. Each test module gets its own instance (module scope)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.integration.gateway_app import gateway_settings, running
from tests.mailbox import Mailbox
from tests.stack import Stack


@pytest.fixture(scope="module")
async def gw(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async for http in running(gateway_settings(stack)):
        yield http


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd on loopback) that the module's notify sends its e-mail to."""
    box = Mailbox().start()
    yield box
    box.stop()
