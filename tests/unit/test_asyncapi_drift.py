"""docs/asyncapi.yaml is what the code generates: contracts and topics never drift from the document."""

from __future__ import annotations

import pytest

from snapfix_shared.asyncapi import document
from tests.stack import ROOT

pytestmark = pytest.mark.unit


def test_the_committed_asyncapi_document_matches_the_code() -> None:
    committed = (ROOT / "docs" / "asyncapi.yaml").read_text()
    assert committed == document(), (
        "docs/asyncapi.yaml is out of date with the message contracts or the topic catalogue: "
        "regenerate it with `make asyncapi` and commit it"
    )


def test_the_document_describes_the_analyst_streams_and_their_inputs() -> None:
    text = document()
    for name in ("analytics.issue-stats.v1", "analytics.issues-public.v1", "issues.events.v1"):
        assert f"address: {name}" in text
    for schema in ("IssueWindowStats", "OpenBacklog", "PublicIssueEvent", "IssueStatusChanged"):
        assert f"{schema}:" in text
