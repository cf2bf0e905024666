"""``/v1/auth``, ``/v1/me``, ``/v1/admin/users`` and ``/v1/staff/directory``: accounts, sign-in (OAuth2 token
endpoint), sessions, and the staff of a department by name.

One router of the routes below, in this order (the OpenAPI document lists them so): privacy (``/v1/me/export``
and ``DELETE /v1/me``), registration, sign_in, email_links (verify the address, reset the password), users.
"""

from __future__ import annotations

from fastapi import APIRouter

from snapfix_gateway.routes import email_links, privacy, registration, sign_in, users

router = APIRouter(tags=["accounts"])
router.include_router(privacy.router)  # /v1/me/export and DELETE /v1/me
router.include_router(registration.router)
router.include_router(sign_in.router)
router.include_router(email_links.router)
router.include_router(users.router)
