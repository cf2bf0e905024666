"""The notify service's answers that the gateway relays unread: the feed, preferences, area watches,
push devices, webhook endpoints and their delivery log, and a user's data for their export.

The notify service documents its routes with these (``snapfix_notify.schemas``) and its tests check
its answers against them (``extra="forbid"``: an undocumented field fails); the gateway's OpenAPI
document names the same models, under the names its clients know (``NotificationItem``,
``Preferences``, ``WatchView``, ``NotifyPart``).
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Platform = Literal["fcm", "apns"]
DeliveryStatus = Literal["pending", "delivered", "failed", "cancelled"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- the feed, preferences, area watches ---------------------------------------------------------


class NotificationItem(_Body):
    id: str
    moment: str = Field(description="What happened: report_received, acknowledged, status_changed, ...")
    title: str
    body: str
    link: str | None
    issue_id: str | None
    created_at: AwareDatetime
    read: bool


class FeedPage(_Body):
    items: list[NotificationItem]
    unread: int = Field(description="Unread notifications in the whole feed")
    next_cursor: str | None = Field(description="Pass as cursor for the next (older) page; null at the end")


class MarkedRead(_Body):
    marked: int = Field(description="How many were unread")


class Preferences(_Body):
    moments: dict[str, dict[str, bool]] = Field(description="moment -> channel (email, in_app, push) -> on")
    channels: list[str]
    always_email: list[str] = Field(description="Account emails (verification, password reset): always sent")


class WatchView(_Body):
    id: UUID
    lat: float | None
    lon: float | None
    radius_m: float | None
    cells: list[str] = Field(description="The geohash cells watched (a circle's cover, or those given)")
    categories: list[str] = Field(description="Only these; empty: all")
    digest: bool = Field(description="One email per hour instead of a notification per report")
    created_at: AwareDatetime


class WatchList(_Body):
    items: list[WatchView]


# -- push devices --------------------------------------------------------------------------------


class DeviceView(_Body):
    device_id: str
    platform: Platform
    token: str
    created_at: AwareDatetime
    updated_at: AwareDatetime


# -- webhook endpoints and their delivery log (administrators) -----------------------------------


class EndpointView(_Body):
    id: UUID
    url: str
    event_types: list[str]
    description: str
    enabled: bool
    created_at: AwareDatetime
    disabled_at: AwareDatetime | None
    disabled_reason: str | None = Field(description="Why it was disabled (410 Gone, sustained failure)")
    consecutive_failures: int
    last_success_at: AwareDatetime | None


class CreatedEndpoint(EndpointView):
    secret: str = Field(description="whsec_...: verify the webhook-signature header with it; shown only once")


class AttemptView(_Body):
    at: AwareDatetime
    status_code: int | None = Field(description="The receiver's answer; null when none came (timeout, refused)")
    error: str | None
    duration_ms: float
    retry_in_s: float | None = Field(description="The backoff chosen after this failed attempt")


class DeliveryView(_Body):
    id: str = Field(description="The webhook-id header, the same on every attempt")
    event_id: UUID
    event_type: str
    status: DeliveryStatus
    created_at: AwareDatetime
    attempt_count: int
    attempts: list[AttemptView]
    next_attempt_at: AwareDatetime | None = Field(description="Pending deliveries only: when the next attempt is due")
    delivered_at: AwareDatetime | None
    reason: str | None


class DeliveryPage(_Body):
    items: list[DeliveryView]
    next_cursor: str | None = Field(description="Pass as ?cursor= for older deliveries; null at the end")


# -- a user's data, for their export --------------------------------------------------------------


class NotifyPart(_Body):
    """What the notify service holds about you, as stored (at most 10,000 of each kind)."""

    notifications: list[dict[str, Any]] = Field(description="Your in-app feed")
    preferences: dict[str, Any] | None = Field(description="Your choices of moments and channels (null: defaults)")
    watches: list[dict[str, Any]] = Field(description="Your area watches")
    devices: list[dict[str, Any]] = Field(description="Your push devices (without their push tokens)")
