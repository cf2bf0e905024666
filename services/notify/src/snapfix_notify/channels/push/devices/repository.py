"""Queries on the push device registry: each user's registered phones (platform and push token).

A user registers a device under an id of the app's choosing (``PUT /v1/me/devices/{id}``,
an upsert); one push token belongs to one user at a time, so a phone handed over stops
receiving its former owner's notifications as soon as the new owner registers it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING

from snapfix_notify.channels.push.devices.models import Device, Platform


def device_key(user_id: str, device_id: str) -> str:
    return f"{user_id}:{device_id}"


class DeviceRepository:
    """The only place with queries on the device registry (portable subset, DESIGN §6)."""

    @staticmethod
    def _collection() -> Any:
        return Device.get_pymongo_collection()

    async def register(self, user_id: str, device_id: str, platform: Platform, token: str, at: datetime) -> Device:
        key = device_key(user_id, device_id)
        # The token moves to this user: no one else keeps receiving on that phone.
        await self._collection().delete_many({"token": token, "_id": {"$ne": key}})
        await self._collection().update_one(
            {"_id": key},
            {
                "$set": {"platform": platform, "token": token, "updated_at": at},
                "$setOnInsert": {"user_id": user_id, "device_id": device_id, "created_at": at},
            },
            upsert=True,
        )
        doc = await self._collection().find_one({"_id": key})
        return _device(doc)

    async def of_user(self, user_id: str) -> list[Device]:
        cursor = self._collection().find({"user_id": user_id}).sort("device_id", ASCENDING)
        return [_device(d) async for d in cursor]

    async def forget_user(self, user_id: str) -> int:
        """Every device of a deleted account, with its push token."""
        result = await self._collection().delete_many({"user_id": user_id})
        return int(result.deleted_count)

    async def remove(self, user_id: str, device_id: str) -> bool:
        result = await self._collection().delete_one({"_id": device_key(user_id, device_id)})
        return bool(result.deleted_count)


def _device(doc: dict[str, Any]) -> Device:
    device: Device = Device.model_validate({**doc, "id": doc["_id"]})
    return device
