"""Which stack the tests use (tests/stack.py ``choose_stack``): SNAPFIX_TEST_STACK decides when set; on
auto a native stack named in the environment wins, then containers where a Docker engine answers,
then the native stack. The Docker probe is asked only when auto needs it, and answers False here
(no engine) without waiting."""

from __future__ import annotations

import time

import pytest

from tests.stack import StackChoice, choose_stack, docker_engine_answers

pytestmark = pytest.mark.unit


class Probe:
    def __init__(self, answers: bool) -> None:
        self.answers, self.asked = answers, 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.answers


@pytest.mark.parametrize(
    ("setting", "native_named", "docker", "kind"),
    [
        (None, False, True, "containers"),
        ("", False, True, "containers"),
        ("auto", False, True, "containers"),
        (" Auto ", False, False, "native"),
        (None, False, False, "native"),
        (None, True, True, "native"),  # `make test` exported the stack it started
        ("native", False, True, "native"),
        ("containers", True, False, "containers"),  # by hand: fails loudly later if no engine answers
        ("CONTAINERS", False, True, "containers"),
    ],
)
def test_the_choice(setting: str | None, native_named: bool, docker: bool, kind: str) -> None:
    choice = choose_stack(setting, native_named=native_named, docker_answers=Probe(docker))
    assert choice.kind == kind
    assert choice.reason  # logged with the choice


def test_the_reason_names_what_decided() -> None:
    assert choose_stack("native", native_named=False, docker_answers=Probe(True)) == StackChoice(
        "native", "SNAPFIX_TEST_STACK=native"
    )
    assert "Docker engine answers" in choose_stack(None, native_named=False, docker_answers=Probe(True)).reason
    assert "no Docker engine" in choose_stack(None, native_named=False, docker_answers=Probe(False)).reason
    assert "SNAPFIX_KAFKA_BOOTSTRAP_SERVERS" in choose_stack(None, native_named=True, docker_answers=Probe(True)).reason


def test_docker_is_asked_only_when_auto_needs_it() -> None:
    for setting, named in (("native", False), ("containers", False), (None, True)):
        probe = Probe(True)
        choose_stack(setting, native_named=named, docker_answers=probe)
        assert probe.asked == 0, setting
    probe = Probe(False)
    choose_stack("auto", native_named=False, docker_answers=probe)
    assert probe.asked == 1


def test_an_unknown_setting_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match=r"SNAPFIX_TEST_STACK='docker': expected native, containers or auto"):
        choose_stack("docker", native_named=False, docker_answers=Probe(True))


def test_the_probe_without_an_engine_says_no_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    started = time.monotonic()
    assert docker_engine_answers(timeout_s=1) is False
    assert time.monotonic() - started < 5
