"""What the ``snapfix users`` commands stand on: their arguments (roles, departments, the password), the
gateway's identity code opened on the settings, the catalogue's departments, finding an account, its table."""

from __future__ import annotations

import asyncio
import getpass
import re
import secrets
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

import typer
from rich.table import Table

from snapfix_cli import kafka_admin
from snapfix_cli.support import CliError, fail

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from snapfix_gateway.config import GatewaySettings
    from snapfix_gateway.identity.accounts import Accounts
    from snapfix_gateway.identity.models import Account
    from snapfix_gateway.identity.sessions import Sessions


_DEPARTMENT = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")  # snapfix_shared.messages.issues.DepartmentCode
MAX_DEPARTMENTS = 20  # as CreateUserRequest and ChangeUserRequest allow


class StaffRole(StrEnum):
    staff = "staff"
    admin = "admin"


class AnyRole(StrEnum):
    citizen = "citizen"
    staff = "staff"
    admin = "admin"


def actor() -> str:
    """Who the events say made the change: the operator's login on this machine."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = "unknown"
    return f"cli:{login}"[:128]


def departments_arg(values: Sequence[str] | None) -> list[str]:
    """Department codes as the API takes them (lower-case code, at most 20), without repeats."""
    found = list(dict.fromkeys(v.strip() for v in values or ()))
    bad = [v for v in found if not (0 < len(v) <= 64 and _DEPARTMENT.match(v))]
    if bad:
        fail(f"not a department code: {', '.join(map(repr, bad))} (lower-case letters, digits, '.', '_', '-').")
    if len(found) > MAX_DEPARTMENTS:
        fail(f"at most {MAX_DEPARTMENTS} departments.")
    return found


def generated_password() -> str:
    """A random password far above the strength policy (zxcvbn's top score): 144 random bits."""
    return secrets.token_urlsafe(18)


def read_password(*, from_stdin: bool, generate: bool) -> tuple[str, bool]:
    """The new account's password and whether it was generated (then it is shown once)."""
    if from_stdin and generate:
        fail("--password-stdin and --generate-password exclude each other.")
    if generate:
        return generated_password(), True
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("--password-stdin: standard input held no password.")
        return password, False
    if not sys.stdin.isatty():
        fail("no terminal to ask the password on: pass --password-stdin or --generate-password.")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True), False


# -- the gateway's identity, opened for one command ----------------------------------------------


@dataclass
class Identity:
    settings: GatewaySettings
    accounts: Accounts
    sessions: Sessions
    redis: Redis


@asynccontextmanager
async def identity() -> AsyncIterator[Identity]:
    """The gateway's accounts store, sessions and user-event publisher, with the gateway's settings."""
    from beanie import init_beanie

    from snapfix_gateway.config import GatewaySettings
    from snapfix_gateway.identity.accounts import Accounts
    from snapfix_gateway.identity.models import Account
    from snapfix_gateway.identity.passwords import Passwords
    from snapfix_gateway.identity.sessions import Sessions
    from snapfix_shared.kafka import create_broker
    from snapfix_shared.mongo import mongo_client
    from snapfix_shared.redis_client import redis_client
    from snapfix_shared.sealing import LinkSeal

    settings = GatewaySettings()
    mongo = mongo_client(settings, app_name=kafka_admin.CLIENT_ID)
    redis = redis_client(settings)
    broker = create_broker(settings, client_id=kafka_admin.CLIENT_ID)
    try:
        # The gateway creates the collection's indexes; the command line only reads and writes.
        await init_beanie(database=mongo[settings.mongo_database], document_models=[Account], skip_indexes=True)
        await kafka_admin.bounded(broker.start())
        accounts = Accounts(
            broker,
            Passwords(1),
            source="/snapfix/cli",
            publish_timeout_s=settings.kafka_request_timeout_ms / 1000 + 1.0,  # as the gateway's Runtime
            public_base_url=settings.public_base_url,
            min_password_score=settings.min_password_score,
            password_reset_ttl_s=settings.password_reset_ttl_s,
            link_seal=LinkSeal(settings.link_seal_key),
        )
        sessions = Sessions(
            redis,
            settings.refresh_token_ttl_s,
            max_age_s=settings.session_max_age_s,
            revocation_keep_s=settings.access_token_ttl_s + 60,  # as the gateway's Revocations keep them
        )
        yield Identity(settings, accounts, sessions, redis)
    finally:
        await kafka_admin.bounded(broker.stop())
        await redis.aclose()
        await mongo.close()


async def catalogue_departments(settings: GatewaySettings) -> set[str] | None:
    """The departments of the catalogue's categories, read as the gateway reads them (None: not checked)."""
    from snapfix_gateway.catalogue import CatalogueCopy
    from snapfix_gateway.identity.admin_changes import known_departments

    copy = CatalogueCopy(settings, client_id=f"{kafka_admin.CLIENT_ID}-catalogue")
    await copy.start()
    try:
        async with asyncio.timeout(kafka_admin.CALL_TIMEOUT_S):
            await copy.wait_loaded()
    except TimeoutError:
        raise CliError(
            "the category catalogue (issues.catalogue.v1) could not be read in time: departments cannot be checked."
        ) from None
    finally:
        await copy.stop()
    return known_departments(copy.loaded, copy.all())


def check_departments(departments: Sequence[str], known: set[str] | None, *, already: Sequence[str] = ()) -> None:
    """As the API: a department the account does not have yet must be one of the catalogue's (when it has any)."""
    if known is None:
        return
    unknown = sorted(set(departments) - set(already) - known)
    if unknown:
        fail(
            f"no category of the catalogue belongs to {', '.join(unknown)} (known: {', '.join(sorted(known))}); "
            "nothing changed."
        )


async def find(accounts: Accounts, user: str) -> Account:
    """The account named by id or e-mail address; a CliError when there is none."""
    try:
        UUID(user)
    except ValueError:
        account = await accounts.by_email(user)
    else:
        account = await accounts.get(user)
    if account is None:
        fail(f"no account {user!r} (name a user by id or e-mail address; see: snapfix users list).")
    return account


def account_table(rows: Sequence[dict[str, Any]], *, title: str) -> Table:
    table = Table(title=title)
    for column in ("Id", "E-mail", "Name", "Role", "Departments", "Verified", "Disabled", "Created"):
        table.add_column(column, overflow="fold")
    for row in rows:
        created = row.get("created_at")
        table.add_row(
            str(row.get("_id", row.get("id"))),
            str(row["email"]),
            str(row["display_name"]),
            str(row["role"]),
            ", ".join(row.get("departments") or []) or "-",
            "yes" if row.get("email_verified") else "no",
            "[red]yes[/]" if row.get("disabled") else "no",
            created.isoformat(timespec="seconds") if created is not None else "",
        )
    return table


def _row(account: Account) -> dict[str, Any]:
    return {**account.model_dump(), "_id": account.id}
