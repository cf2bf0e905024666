"""The fixed parts the OpenAPI document adds to what FastAPI generates: the problem schemas, the headers
the gateway and the edge send, the descriptions of the error statuses, which dependencies answer what, the
relayed bodies and answers, and the links between operations."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from snapfix_gateway import deps
from snapfix_shared.messages.catalogue import CategoryBody, CategorySpec

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
VALIDATION_PROBLEM_REF = {"$ref": "#/components/schemas/ValidationProblem"}

# What snapfix_shared.problems sends: problem_response, send_problem and the 422 handler.
SCHEMAS: dict[str, dict[str, Any]] = {
    "Problem": {
        "title": "Problem",
        "description": "RFC 9457 problem details. Some problems add members: `errors` (422), `error` "
        "(the OAuth2 error code of the token endpoint), `reason` (a refused report, 410).",
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string", "description": "`about:blank` unless a problem type is named"},
            "title": {"type": "string", "description": "The status's phrase"},
            "status": {"type": "integer", "minimum": 100, "maximum": 599},
            "detail": {"type": "string", "description": "What went wrong, for a human"},
            "instance": {"type": "string", "description": "The request's path"},
        },
        "additionalProperties": True,
    },
    "FieldError": {
        "title": "FieldError",
        "type": "object",
        "required": ["field", "message"],
        "properties": {
            "field": {
                "type": "string",
                "description": "The field as the client named it (`title`, `attributes.depth`)",
            },
            "location": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Where it is: `body`, `query`, `path` or `header`, then the field's path",
            },
            "message": {"type": "string"},
            "type": {"type": ["string", "null"], "description": "The kind of error (`missing`, `string_too_long`...)"},
        },
        "additionalProperties": True,
    },
    "ValidationProblem": {
        "title": "ValidationProblem",
        "description": "A 422: the request is not valid; `errors` names each field (absent when the whole "
        "request is refused, as an `Idempotency-Key` reused for another request).",
        "allOf": [
            PROBLEM_REF,
            {
                "type": "object",
                "properties": {"errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}}},
            },
        ],
    },
    "Open311Errors": {
        "title": "Open311Errors",
        "description": "GeoReport v2 errors (in XML, `<errors><error>` with the same fields)",
        "type": "array",
        "items": {
            "type": "object",
            "required": ["code", "description"],
            "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
        },
    },
}

_STRING = {"schema": {"type": "string"}}
HEADERS: dict[str, dict[str, Any]] = {
    "RateLimit": {
        "description": "The policy closest to refusing, what remains and when the window ends "
        '(draft-ietf-httpapi-ratelimit-headers: `"user";r=97;t=42`)',
        **_STRING,
    },
    "RateLimit-Policy": {"description": 'That policy: `"user";q=100;w=60`', **_STRING},
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer", "minimum": 0}},
    "Location": {"description": "Where the resource is (or will be, moments after a 202)", **_STRING},
    "ETag": {"description": "Send it back as `If-None-Match`: unchanged, the answer is a 304", **_STRING},
    "Idempotent-Replayed": {
        "description": "`true` on the kept answer to a retry with the same `Idempotency-Key`",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "WWW-Authenticate": {"description": "`Bearer` (RFC 6750)", **_STRING},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any unique value (a UUID): a retry with the same key gets the first answer again, "
    "without a second effect. Reused for another request: 422; while the first is in progress: 409.",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
}

_DESCRIPTIONS = {
    400: "The request cannot be read (a body that is not JSON, an invalid `Idempotency-Key`)",
    401: "Not signed in, or the access token is not valid (expired, revoked)",
    403: "Not allowed for this user",
    404: "Not found",
    409: "A request with this `Idempotency-Key` is still in progress",
    413: "The request body is too large",
    422: "The request is not valid; `errors` names each field",
    429: "Rate limit reached; retry after `Retry-After`",
    503: "A dependency is unavailable or the gateway is overloaded; retry after `Retry-After`",
}
# Dependencies that answer nothing of their own (no store, no service, no session).
_LOCAL = {deps.get_settings, deps.get_request_id, deps.get_tokens, deps.get_runtime}
_SIGNED_IN = {deps.get_optional_principal}
_PRIVILEGED = {deps.get_staff, deps.get_admin}
# Routes whose answers carry an ETag and may be a 304 (their owner's validators are relayed).
_CONDITIONAL = {("GET", "/v1/issues/{issue_id}"), ("GET", "/v1/categories")}
_OPEN311 = "/open311/"
# Routes that relay their body to its owner unread: the owner's models, from the shared contracts.
_RELAYED_BODIES: dict[tuple[str, str], type[BaseModel]] = {("PUT", "/v1/categories/{code}"): CategoryBody}
_RELAYED_ANSWERS: dict[tuple[str, str], dict[str, tuple[type[BaseModel], str]]] = {
    ("PUT", "/v1/categories/{code}"): {"200": (CategorySpec, "Replaced"), "201": (CategorySpec, "Created")},
}
# OpenAPI links: where a created resource is read and acted on next (clients and schemathesis'
# stateful runs follow them: report → read → transition, comment, vote...).
_ISSUE = "/v1/issues/{issue_id}"
_FROM_BODY = "$response.body#/id"
_FROM_PATH = "$request.path.issue_id"
_LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict[str, str]]]] = {
    ("POST", "/v1/issues", "202"): {
        "ReadIssue": ("GET", _ISSUE, {"issue_id": _FROM_BODY}),
        "TransitionIssue": ("POST", f"{_ISSUE}/transitions", {"issue_id": _FROM_BODY}),
        "CommentOnIssue": ("POST", f"{_ISSUE}/comments", {"issue_id": _FROM_BODY}),
        "VoteOnIssue": ("POST", f"{_ISSUE}/vote", {"issue_id": _FROM_BODY}),
        "FollowIssue": ("PUT", f"{_ISSUE}/follow", {"issue_id": _FROM_BODY}),
        "EditIssue": ("PATCH", _ISSUE, {"issue_id": _FROM_BODY}),
    },
    ("POST", f"{_ISSUE}/transitions", "202"): {
        "ReadIssue": ("GET", _ISSUE, {"issue_id": _FROM_PATH}),
        "CommentOnIssue": ("POST", f"{_ISSUE}/comments", {"issue_id": _FROM_PATH}),
    },
    ("POST", f"{_ISSUE}/comments", "202"): {"ReadIssue": ("GET", _ISSUE, {"issue_id": _FROM_PATH})},
    ("POST", "/v1/media", "201"): {
        "UploadPhoto": ("PUT", "/v1/media/{media_id}/upload", {"media_id": _FROM_BODY}),
        "ReadPhotoState": ("GET", "/v1/media/{media_id}", {"media_id": _FROM_BODY}),
    },
    ("POST", "/v1/me/watches", "201"): {
        "DeleteWatch": ("DELETE", "/v1/me/watches/{watch_id}", {"watch_id": _FROM_BODY})
    },
    ("POST", "/v1/admin/api-keys", "201"): {
        "RevokeApiKey": ("DELETE", "/v1/admin/api-keys/{key_id}", {"key_id": _FROM_BODY})
    },
}
# One server-sent event, as schemathesis and clients read it.
_EVENT = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "event": {"type": "string"}, "data": {"type": "string"}},
}
