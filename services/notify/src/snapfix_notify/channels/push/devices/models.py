"""The push device registry's document: each user's registered phones (platform and push token)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from beanie import Document
from pymongo import IndexModel

Platform = Literal["fcm", "apns"]


class Device(Document):
    """One user's phone. ``_id`` is ``<user id>:<device id>``. Intended shard key: ``{user_id}``."""

    id: str  # type: ignore[assignment]
    user_id: str
    device_id: str
    platform: Platform
    token: str
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = "push_devices"
        indexes: ClassVar = [IndexModel([("user_id", 1), ("device_id", 1)]), IndexModel([("token", 1)])]
