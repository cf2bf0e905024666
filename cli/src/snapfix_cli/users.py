"""``snapfix users``: staff and administrators, through the gateway's own identity code.

Every command runs what ``/v1/admin/users`` runs: ``Accounts.register`` to create (the account
is written with its events in an outbox, then published on ``users.events.v1``),
``admin_changes.change_account`` to change (the per-account lock, ``UserUpdated``, the staff
directory's cache, and the sessions: disabling ends every one of them at once), and the
list's own query. Departments are checked against the category catalogue (``issues.catalogue.v1``)
as the API checks them: once the catalogue has categories, a department must be one of theirs.

The changes are made in the name of ``cli:<login>`` (the ``actor_id`` of their events). A user
is named by id or by e-mail address.
"""

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
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID, uuid4

import typer
from rich.table import Table

from snapfix_cli import kafka_admin
from snapfix_cli.support import CliError, console, fail, guarded, run

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from snapfix_gateway.config import GatewaySettings
    from snapfix_gateway.identity.accounts import Accounts
    from snapfix_gateway.identity.models import Account
    from snapfix_gateway.identity.sessions import Sessions

app = typer.Typer(
    help="Staff and administrators: create, list, disable, enable, change role and departments.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

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


# -- commands ----------------------------------------------------------------------------------


@app.command("create-staff")
@guarded
def create_staff(  # noqa: PLR0917 - Typer passes every argument and option by position
    email: Annotated[str, typer.Argument(help="The new account's e-mail address")],
    display_name: Annotated[str, typer.Argument(help="The name colleagues see (1-100 characters)")],
    department: Annotated[
        list[str] | None, typer.Option("--department", "-d", help="A department code (repeat; staff need one)")
    ] = None,
    role: Annotated[StaffRole, typer.Option(help="staff, or admin for an administrator")] = StaffRole.staff,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input")
    ] = False,
    generate_password: Annotated[
        bool, typer.Option("--generate-password", help="Generate a strong password and print it once")
    ] = False,
) -> None:
    """Create a staff member (with departments) or an administrator; announced as UserRegistered.

    The password is asked at the terminal, read from standard input (--password-stdin), or
    generated (--generate-password, printed once). It must pass the same strength check as
    at registration. A link to verify the address is e-mailed, as from the API.

    Example: snapfix users create-staff road.crew@city.example "Road crew" -d roads --generate-password
    """
    departments = departments_arg(department)
    name = display_name.strip()
    if not 0 < len(name) <= 100:
        fail("the display name has 1 to 100 characters.")
    if role == StaffRole.staff and not departments:
        fail("staff belong to at least one department: pass --department (or --role admin).")
    from snapfix_gateway.identity.accounts import InvalidEmail, normalize_email

    try:
        normalize_email(email)
    except InvalidEmail as exc:
        fail(f"{email!r} is not an e-mail address: {exc}")
    password, generated = read_password(from_stdin=password_stdin, generate=generate_password)

    async def main() -> tuple[Account, bool]:
        from snapfix_gateway.identity import directory
        from snapfix_gateway.identity.accounts import EmailTaken
        from snapfix_gateway.identity.passwords import WeakPassword

        async with identity() as ident:
            check_departments(departments, await catalogue_departments(ident.settings))
            try:
                account = await ident.accounts.register(
                    email,
                    password,
                    name,
                    correlation_id=f"cli-{uuid4()}",
                    role=role.value,
                    departments=departments,
                    actor_id=actor(),
                )
            except WeakPassword as exc:
                fail(f"the password is too weak: {exc}")
            except EmailTaken:
                fail(f"an account with the address {email!r} exists already.")
            await directory.forget(ident.redis, account.departments)
            stored = await ident.accounts.get(str(account.id))
            return account, bool(stored is not None and stored.outbox_pending)

    account, pending = run(main())
    console.print(account_table([_row(account)], title=f"Created {account.role}"))
    _published_or_pending(pending)
    if generated:
        console.print(f"Password (shown once, not stored anywhere in clear): [bold]{password}[/]")


@app.command("list")
@guarded
def list_users(
    role: Annotated[AnyRole | None, typer.Option(help="Only accounts with this role")] = None,
    department: Annotated[str | None, typer.Option("--department", "-d", help="Only members of it")] = None,
    disabled: Annotated[
        bool | None, typer.Option("--disabled/--enabled", help="Only disabled (or only enabled) accounts")
    ] = None,
    email: Annotated[str | None, typer.Option(help="Only addresses starting with this")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many, by e-mail address")] = 100,
) -> None:
    """List accounts by e-mail address, with role, departments and whether each is disabled.

    Example: snapfix users list --role staff --department roads
    """
    departments = departments_arg([department] if department is not None else None)
    from snapfix_gateway.identity.account_admin import LISTED
    from snapfix_gateway.identity.user_admin import list_query, list_sort

    query = list_query(role.value if role else None, email, "email", None)  # the API's own filter
    if departments:
        query["departments"] = departments[0]
    if disabled is not None:
        query["disabled"] = True if disabled else {"$ne": True}  # absent in accounts older than the field

    async def main() -> list[dict[str, Any]]:
        from snapfix_gateway.identity.models import Account

        async with identity():
            cursor = Account.get_pymongo_collection().find(query, dict.fromkeys(LISTED, 1)).sort(list_sort("email"))
            return await kafka_admin.bounded(cursor.limit(limit + 1).to_list())  # type: ignore[no-any-return]

    rows = run(main())
    console.print(account_table(rows[:limit], title="Accounts"))
    more = f" (more match: raise --limit above {limit})" if len(rows) > limit else ""
    console.print(f"{min(len(rows), limit)} account(s){more}.")


def _change(
    user: str,
    *,
    role: str | None = None,
    departments: list[str] | None = None,
    disabled: bool | None = None,
) -> None:
    """Apply one change as ``PATCH /v1/admin/users/{id}`` does, and print the account after it."""
    from redis.exceptions import LockError

    from snapfix_gateway.identity.account_admin import ChangeConflict
    from snapfix_gateway.identity.admin_changes import change_account
    from snapfix_gateway.identity.user_admin import InvalidChange, SelfLockout

    async def main() -> tuple[Account, tuple[str, ...], bool]:
        async with identity() as ident:
            account = await find(ident.accounts, user)
            known = await catalogue_departments(ident.settings) if departments is not None else None
            try:
                outcome = await change_account(
                    ident.accounts,
                    ident.sessions,
                    str(account.id),
                    actor_id=actor(),
                    correlation_id=f"cli-{uuid4()}",
                    role=role,  # type: ignore[arg-type]
                    departments=departments,
                    disabled=disabled,
                    known=known,
                )
            except (InvalidChange, SelfLockout) as exc:
                fail(f"{exc} Nothing changed.")
            except (ChangeConflict, LockError):
                fail("the account is being changed by someone else right now; try again.")
            if outcome is None:
                fail(f"the account {user!r} no longer exists.")
            changed, change = outcome
            stored = await ident.accounts.get(str(changed.id))
            return changed, change.changed, bool(stored is not None and stored.outbox_pending)

    account, changed, pending = run(main())
    console.print(account_table([_row(account)], title="Account"))
    if not changed:
        console.print("Nothing to change: the account was already so (no event published).")
        return
    console.print(f"Changed: {', '.join(changed)}.")
    _published_or_pending(pending)


def _published_or_pending(pending: bool) -> None:
    if pending:
        console.print(
            "[yellow]Kafka did not acknowledge the event yet: it waits in the account's outbox, and the "
            "gateway's outbox relay publishes it.[/]"
        )
    else:
        console.print("Published on users.events.v1.")


UserArg = Annotated[str, typer.Argument(help="The user's id or e-mail address")]


@app.command()
@guarded
def disable(user: UserArg) -> None:
    """Disable an account: it can no longer sign in, and every session of it ends now.

    Example: snapfix users disable road.crew@city.example
    """
    _change(user, disabled=True)


@app.command()
@guarded
def enable(user: UserArg) -> None:
    """Enable a disabled account again (its owner signs in anew).

    Example: snapfix users enable road.crew@city.example
    """
    _change(user, disabled=False)


@app.command("set-role")
@guarded
def set_role(
    user: UserArg,
    role: Annotated[AnyRole, typer.Argument(help="citizen, staff or admin")],
    department: Annotated[
        list[str] | None,
        typer.Option("--department", "-d", help="Also set the departments (repeat); staff need at least one"),
    ] = None,
) -> None:
    """Change an account's role (to citizen: its departments are cleared). Applies at its next token refresh.

    Example: snapfix users set-role road.crew@city.example admin
    """
    departments = departments_arg(department) if department else None
    _change(user, role=role.value, departments=departments)


@app.command("set-departments")
@guarded
def set_departments(
    user: UserArg,
    departments: Annotated[list[str], typer.Argument(help="Every department the account belongs to")],
) -> None:
    """Replace a staff member's departments (each must be one of the catalogue's).

    Example: snapfix users set-departments road.crew@city.example roads traffic
    """
    _change(user, departments=departments_arg(departments))
