"""``snapfix users``: staff and administrators, through the gateway's own identity code.

Every command runs what ``/v1/admin/users`` runs: ``Accounts.register`` to create (the account
is written with its events in an outbox, then published on ``users.events.v1``),
``admin_changes.change_account`` to change (the per-account lock, ``UserUpdated``, the staff
directory's cache, and the sessions: disabling ends every one of them at once), and the
list's own query. Departments are checked against the category catalogue (``issues.catalogue.v1``)
as the API checks them: once the catalogue has categories, a department must be one of theirs.

The changes are made in the name of ``cli:<login>`` (the ``actor_id`` of their events). A user
is named by id or by e-mail address.

What the commands stand on (arguments, the identity code opened on the settings, finding an account, its
table) is in ``user_accounts``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from uuid import uuid4

import typer

from snapfix_cli import kafka_admin
from snapfix_cli.support import console, fail, guarded, run
from snapfix_cli.user_accounts import (
    AnyRole,
    StaffRole,
    _row,
    account_table,
    actor,
    catalogue_departments,
    check_departments,
    departments_arg,
    find,
    identity,
    read_password,
)

if TYPE_CHECKING:
    from snapfix_gateway.identity.models import Account

app = typer.Typer(
    help="Staff and administrators: create, list, disable, enable, change role and departments.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


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
