"""``snapfix users``: arguments checked before any store is opened, and the password's sources."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from snapfix_cli import user_accounts
from snapfix_cli.app import app
from snapfix_cli.support import CliError
from snapfix_gateway.identity.passwords import check_strength

pytestmark = pytest.mark.unit

runner = CliRunner()
# Nothing answers here: a command that got past its checks would fail on these, not succeed.
NO_STACK = {
    "SNAPFIX_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
    "SNAPFIX_MONGO_URL": "mongodb://127.0.0.1:9/",
    "SNAPFIX_REDIS_URL": "redis://127.0.0.1:9/0",
}


def test_departments_are_codes_without_repeats() -> None:
    assert user_accounts.departments_arg(["roads", " parks ", "roads"]) == ["roads", "parks"]
    assert user_accounts.departments_arg(None) == []
    for wrong in (["Roads"], ["road works"], [""], ["-roads"]):
        with pytest.raises(CliError, match="not a department code"):
            user_accounts.departments_arg(wrong)
    with pytest.raises(CliError, match="at most 20"):
        user_accounts.departments_arg([f"d{i}" for i in range(21)])


def test_a_department_new_to_the_account_must_be_the_catalogues() -> None:
    user_accounts.check_departments(["roads"], {"roads", "parks"})
    user_accounts.check_departments(["anything"], None)  # an empty catalogue checks nothing (as the API)
    user_accounts.check_departments(["legacy"], {"roads"}, already=["legacy"])  # kept, not new
    with pytest.raises(CliError, match="no category of the catalogue belongs to sewers"):
        user_accounts.check_departments(["roads", "sewers"], {"roads", "parks"})


def test_a_generated_password_passes_the_strength_policy_at_its_highest() -> None:
    password = user_accounts.generated_password()
    check_strength(password, user_inputs=["crew@city.example", "Crew"], min_score=4)
    assert password != user_accounts.generated_password()


def test_the_actor_of_the_events_is_the_operators_login() -> None:
    assert user_accounts.actor().startswith("cli:")
    assert len(user_accounts.actor()) <= 128


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create-staff", "crew@city.example", "Crew", "--generate-password"], "at least one department"),
        (["create-staff", "not-an-address", "Crew", "-d", "roads", "--generate-password"], "not an e-mail address"),
        (["create-staff", "crew@city.example", " ", "-d", "roads", "--generate-password"], "1 to 100 characters"),
        (["create-staff", "crew@city.example", "Crew", "-d", "Roads!", "--generate-password"], "department code"),
        (
            ["create-staff", "crew@city.example", "Crew", "-d", "roads", "--generate-password", "--password-stdin"],
            "exclude each other",
        ),
        (["create-staff", "crew@city.example", "Crew", "-d", "roads"], "pass --password-stdin"),  # no terminal
        (["set-departments", "crew@city.example", "roads", "Bad Dept"], "department code"),
        (["set-role", "crew@city.example", "staff", "-d", "UPPER"], "department code"),
    ],
)
def test_a_wrong_argument_is_one_clear_error_and_no_store_is_opened(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["users", *args], env=NO_STACK)
    assert result.exit_code == 1, result.output
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["create-staff", "crew@city.example", "Crew", "-d", "roads", "--role", "citizen"],
        ["set-role", "crew@city.example", "superuser"],
        ["list", "--role", "root"],
    ],
)
def test_a_role_that_does_not_exist_is_refused_by_the_parser(args: list[str]) -> None:
    result = runner.invoke(app, ["users", *args], env=NO_STACK)
    assert result.exit_code == 2
    assert "Invalid value" in result.stderr


def test_the_password_is_read_from_the_first_line_of_stdin() -> None:
    result = runner.invoke(
        app,
        ["users", "create-staff", "crew@city.example", "Crew", "--role", "admin", "--password-stdin"],
        input="\n",
        env=NO_STACK,
    )
    assert result.exit_code == 1
    assert "held no password" in result.stderr


@pytest.mark.parametrize("command", ["create-staff", "list", "disable", "enable", "set-role", "set-departments"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = runner.invoke(app, ["users", command, "--help"])
    assert result.exit_code == 0
    assert "Example: snapfix users" in result.output


def test_the_catalogue_checks_departments_once_it_is_loaded_and_names_any() -> None:
    from snapfix_gateway.identity.admin_changes import known_departments
    from snapfix_issues.catalogue import seed_categories

    seed = seed_categories()
    assert known_departments(True, seed) == {spec.department for spec in seed}
    assert "roads" in (known_departments(True, seed) or set())
    assert known_departments(False, seed) is None  # not read yet: not checked
    assert known_departments(True, []) is None  # a new city without categories: not checked
