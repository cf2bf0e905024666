"""Hooks of the schemathesis run (tests/e2e/test_schemathesis.py), loaded by its CLI from the config."""

from __future__ import annotations

import ast
import os
import re
import threading
from typing import Any, get_args
from uuid import uuid4

import schemathesis

from snapfix_shared.messages.media import VariantName

# CPython 3.11 keeps the AST converter's recursion depth in a global (gh-106905, fixed in 3.12/3.13 only):
# two threads parsing at once can fail with "AST constructor recursion depth mismatch". Schemathesis'
# workers are threads, and Hypothesis parses source to describe the lambdas of its strategies, so with
# 2 workers a run could end in that error on any operation. Parsing is made one thread at a time here.
_parse, _parse_lock = ast.parse, threading.Lock()


def _serialised_parse(*args: Any, **kwargs: Any) -> Any:
    with _parse_lock:
        return _parse(*args, **kwargs)


ast.parse = _serialised_parse

_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# The accounts whose tokens sign the run (test_schemathesis.py): an administrator's change drawn for one of
# them (its id learnt from GET /v1/me or the export) would disable it or take its role, and every later
# request would be a 401 or 403. Such a change goes to an account that does not exist instead (404).
_KEPT_USERS = frozenset(filter(None, os.environ.get("SNAPFIX_SCHEMATHESIS_KEPT_USERS", "").split(",")))


@schemathesis.hook
def before_call(_context: Any, case: Any, _kwargs: dict[str, Any]) -> None:
    """A valid ``Idempotency-Key`` is made unique per request. Drawn from the schema, the same few
    keys (``0``, ``00``) would come back on different requests, which the gateway rightly refuses
    (422: the key was used for another request), as its document says; each request stands alone
    here. An invalid key is sent as drawn (400)."""
    if (
        case.operation.path == "/v1/admin/users/{user_id}"
        and str((case.path_parameters or {}).get("user_id")) in _KEPT_USERS
    ):
        case.path_parameters["user_id"] = str(uuid4())
    # A link schemathesis infers from POST /v1/media fills {variant} with "upload" (from the ticket's upload
    # path), outside the documented enum of variants: not a schema-valid request, but sent as one (the GET
    # then meets the PUT-only upload path: 405). Such a value is replaced by a documented variant.
    if case.operation.path == "/v1/media/{media_id}/{variant}" and (case.path_parameters or {}).get(
        "variant"
    ) not in get_args(VariantName):
        case.path_parameters["variant"] = "thumb.webp"
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key" and isinstance(headers[name], str) and _VALID_KEY.match(headers[name]):
            headers[name] = str(uuid4())
