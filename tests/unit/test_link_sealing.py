"""E-mailed links travel sealed on users.events.v1 (issue 15, finding 8), and the pages behind them."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.identity.pages import prefers_html
from snapfix_notify.config import NotifySettings
from snapfix_notify.templates import Renderer
from snapfix_shared.messages import USER_EVENTS
from snapfix_shared.sealing import DEV_LINK_SEAL_KEY, LinkNotUnsealed, LinkSeal

LINK = "https://api.city.example/v1/auth/password-reset?token=Zq3-secret-token-of-the-link"


def test_a_sealed_link_shows_nothing_of_the_link_and_opens_with_the_key() -> None:
    seal = LinkSeal(DEV_LINK_SEAL_KEY)
    sealed = seal.seal(LINK)
    assert "token" not in sealed
    assert "secret" not in sealed
    assert "city.example" not in sealed
    assert seal.unseal(sealed) == LINK
    assert seal.seal(LINK) != sealed  # a fresh IV each time


def test_another_key_or_an_altered_seal_does_not_open() -> None:
    sealed = LinkSeal(DEV_LINK_SEAL_KEY).seal(LINK)
    with pytest.raises(LinkNotUnsealed):
        LinkSeal(Fernet.generate_key().decode()).unseal(sealed)
    altered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(LinkNotUnsealed):
        LinkSeal(DEV_LINK_SEAL_KEY).unseal(altered)


def test_keys_rotate_the_first_seals_every_one_opens() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_before = LinkSeal(old).seal(LINK)
    rotated = LinkSeal(f"{new}, {old}")
    assert rotated.unseal(sealed_before) == LINK
    assert LinkSeal(new).unseal(rotated.seal(LINK)) == LINK


@pytest.mark.parametrize("settings", [GatewaySettings, NotifySettings])
def test_a_key_that_is_not_a_fernet_key_stops_the_start(settings: type[GatewaySettings | NotifySettings]) -> None:
    with pytest.raises(ValidationError, match="SNAPFIX_LINK_SEAL_KEY"):
        settings(link_seal_key="not-a-key")  # type: ignore[arg-type]
    assert settings().link_seal_key.get_secret_value() == DEV_LINK_SEAL_KEY


def test_the_account_events_have_no_link_in_clear() -> None:
    fields = {
        name
        for variant in USER_EVENTS.json_schema()["discriminator"]["mapping"].values()
        for name in USER_EVENTS.json_schema()["$defs"][variant.rsplit("/", 1)[-1]]["properties"]
    }
    assert {"verify_url_sealed", "reset_url_sealed"} <= fields
    assert not {f for f in fields if f.endswith("_url")}


def test_notify_opens_a_sealed_link_only_to_render_it() -> None:
    seal = LinkSeal(DEV_LINK_SEAL_KEY)
    context = {"reset_url_sealed": seal.seal(LINK)}
    rendered = Renderer(link_seal=seal).render("password_reset", context, display_name="Ada")
    assert LINK in rendered.text
    assert LINK.replace("&", "&amp;") in rendered.html
    assert context == {"reset_url_sealed": context["reset_url_sealed"]}  # the stored context stays sealed
    with pytest.raises(LinkNotUnsealed):
        Renderer().render("password_reset", context)  # no key: a failed delivery, never a blank link
    with pytest.raises(LinkNotUnsealed):
        Renderer(link_seal=LinkSeal(Fernet.generate_key().decode())).render("password_reset", context)


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),  # a browser
        ("application/json", False),
        ("*/*", False),  # curl, httpx
        (None, False),
        ("application/json, text/html;q=0.5", False),
        ("text/html;q=0.9, application/json;q=0.5", True),
        ("text/html;q=0", False),
        ("text/html;q=nonsense", False),
    ],
)
def test_the_links_answer_html_only_to_clients_that_prefer_it(accept: str | None, html: bool) -> None:
    assert prefers_html(accept) is html
