"""schemathesis over the whole gateway API, against the real processes: what the OpenAPI
document says is what the gateway does.

Every operation is exercised from its examples, its schema's boundaries (the coverage
phase: missing and wrong fields, unexpected methods) and random data (fuzzing), then in
stateful sequences along the document's links (report → read → transition → comment...).
Every check is on: no 5xx, every status code, content type, header and body documented,
schema-valid requests accepted and invalid ones refused, 405 naming the right methods, and
authentication not ignored. The citizen's token signs every request; the admin's signs the
administrators' routes. The rate limits are raised by the ``system`` fixture.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.e2e.api import citizen, sign_in
from tests.e2e.conftest import ADMIN, System
from tests.stack import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

MAX_EXAMPLES = int(os.environ.get("SNAPFIX_SCHEMATHESIS_EXAMPLES", "5"))
STATEFUL_EXAMPLES = 8 * MAX_EXAMPLES  # the links grow with the API (142 of them): enough walks to follow 10+
RUN_TIMEOUT_S = 420
SEED = int(os.environ.get("SNAPFIX_SCHEMATHESIS_SEED", "1515"))
# Administrators' routes: signed as the admin (a citizen would only ever see 403 there). Not the
# catalogue's PUT: random categories (or a changed `pothole`) would reach every later test; nor
# the list of webhooks: endpoints at random URLs would be sent every later event (the other
# webhook routes are, on ids that do not exist).
ADMIN_PATHS = r"^/v1/admin/(?!webhooks$)"
# Schema-valid requests that the gateway, or the owner behind it, refuses for what no schema can
# say: an opaque cursor, token or Last-Event-ID it did not give out (400/422), a guessable
# password (zxcvbn, 422), a wrong password (400 invalid_grant), a category, department or photo
# that does not exist (422), a staff member without a department, a viewport with too many cells,
# the wrong password to delete one's account (403), a photo over the deployment's size cap
# (SNAPFIX_MAX_UPLOAD_BYTES, a setting the document cannot state: 413).
SEMANTIC = [
    ("GET", r"^/v1/(issues|map/issues|me/issues|me/following|me/notifications|staff/queue|events)$"),
    ("GET", r"^/v1/(map/cells|notifications/unsubscribe|admin/webhooks/\{endpoint_id\}/deliveries)$"),
    ("POST", r"^/v1/(auth/(token|register|password-reset/confirm)|admin/(users|webhooks)|notifications/unsubscribe)$"),
    ("POST", r"^/v1/(issues|media|me/watches)$"),
    ("POST", r"^/v1/issues/\{issue_id\}/(transitions|comments|assignment)$"),
    ("PATCH", r"^/v1/issues/\{issue_id\}$"),
    ("DELETE", r"^/v1/me$"),  # a password that is not the account's (403): never a deletion of the test's citizen
    ("POST", r"^/open311/v2/requests\.\{fmt\}$"),
]


def _config(token: str, admin_token: str, logout_token: str) -> str:
    semantic = "".join(
        f"""
[[operations]]
include-method = "{method}"
include-path-regex = '{regex}'
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", 400, 401, 403, 404, 409, 413, 422, 429]
"""
        for method, regex in SEMANTIC
    )
    return f"""
seed = {SEED}
workers = 2
# Under the signed-in user's raised limit (20,000/minute, conftest.py). At 1,800/minute this test was
# the longest of make test (125-169 s), held to the rate: the gateway and its owners serve more.
rate-limit = "6000/m"
continue-on-failure = true
request-timeout = 20
hooks = "tests.e2e.schemathesis_hooks"
headers = {{ Authorization = "Bearer {token}" }}

[generation]
max-examples = {MAX_EXAMPLES}
no-shrink = true

[checks]
enabled = true

# Sequences along the links (report → read → transition, comment, vote...): more of them than
# single-operation examples, as each walks several operations.
[phases.stateful]
max-steps = 8
generation.max-examples = {STATEFUL_EXAMPLES}

[[operations]]
include-path-regex = '{ADMIN_PATHS}'
headers = {{ Authorization = "Bearer {admin_token}" }}

# A photo's variants exist once its bytes are uploaded and processed (asynchronously): right after
# POST /v1/media created the ticket, its variants are rightly 404, which a link inferred from the ticket
# to them would report as "created resource not found".
[[operations]]
include-path = "/v1/media/{{media_id}}/{{variant}}"
include-method = "GET"
checks.ensure_resource_availability.enabled = false

# Signing out ends the session: a session of its own, not the one every other request uses.
[[operations]]
include-path = "/v1/auth/logout"
headers = {{ Authorization = "Bearer {logout_token}" }}
{semantic}"""


def _schemathesis(system: System, config: Path, report: Path, out: IO[str], kept_users: str) -> int | None:
    """Its CLI (every phase, its summary and its JSON report), as `st run` would; None: it ran out of time."""
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run"]
    command += [f"{system.gateway}/openapi.json", "--report", "json", "--report-json-path", str(report)]
    command += ["--output-truncate", "false"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SNAPFIX_SCHEMATHESIS_KEPT_USERS": kept_users}
    with subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env) as proc:
        try:
            return proc.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            return None


def _documented(system: System) -> list[tuple[str, str]]:
    spec = httpx.get(f"{system.gateway}/openapi.json", timeout=30).json()
    return [(method, path) for path, methods in spec["paths"].items() for method in methods]


async def _token(client: httpx.AsyncClient) -> str:
    return client.headers["authorization"].removeprefix("Bearer ")


async def test_the_gateway_does_what_its_openapi_document_says(system: System, tmp_path: Path) -> None:
    user, admin = await citizen(system), await sign_in(system, *ADMIN)
    other_session = await sign_in(system, (await user.get("/v1/me")).json()["email"])
    try:
        webhooks_before = {e["id"] for e in (await admin.get("/v1/admin/webhooks")).json()}
        config = tmp_path / "schemathesis.toml"
        config.write_text(_config(await _token(user), await _token(admin), await _token(other_session)))
        report = tmp_path / "report.json"
        started = time.monotonic()
        log = tmp_path / "schemathesis.log"
        with log.open("w") as out_file:
            # The citizen's account is kept from the administrators' changes (schemathesis_hooks.py).
            kept = (await user.get("/v1/me")).json()["id"]
            returncode = await asyncio.to_thread(_schemathesis, system, config, report, out_file, kept)
        elapsed = time.monotonic() - started
        out = log.read_text()
        print(out[-6000:])
        print(f"schemathesis took {elapsed:.0f} s")
        assert returncode is not None, f"schemathesis did not finish within {RUN_TIMEOUT_S} s:\n{out[-6000:]}"
        summary: dict[str, Any] = json.loads(report.read_text()) if report.exists() else {}
        assert returncode == 0, f"schemathesis found failures (exit {returncode}):\n{out[-20000:]}"
        assert summary["failures"] == [], out[-20000:]
        assert summary["errors"] == [], out[-20000:]
        # The whole API, every phase: a route left out of the document, or a phase that did not
        # run (no links to follow, say), is a failure too.
        operations = summary["operations"]
        assert operations["tested"] == operations["total"] == len(_documented(system)), operations
        assert {name: phase["status"] for name, phase in summary["phases"].items()} == dict.fromkeys(
            ("examples", "coverage", "fuzzing", "stateful"), "success"
        ), summary["phases"]
        links = re.search(r"API Links:\s+(\d+) covered", out)
        assert links is not None, out[-3000:]
        assert int(links.group(1)) >= 10, out[-3000:]
        assert summary["test_cases"]["generated"] >= 1000, summary["test_cases"]
    finally:
        # Webhooks the fuzzer registered would receive every later test's events.
        for endpoint in (await admin.get("/v1/admin/webhooks")).json():
            if endpoint["id"] not in webhooks_before:
                await admin.delete(f"/v1/admin/webhooks/{endpoint['id']}")
        for client in (user, admin, other_session):
            await client.aclose()
