"""Per-user upload quotas, checked when an upload URL is asked for (``POST /v1/uploads``).

- **Photos no report names yet** (``SNAPFIX_UNATTACHED_PHOTO_LIMIT``): each upload URL takes
  one of the user's slots in the service's own store (``UploadSlot``, repository.py); naming
  the photo in a report, its URL expiring unused, its rejection or the orphan sweep frees it.
  Past the limit: ``403``, a policy the user lifts by reporting or waiting.
- **Upload URLs per UTC day** (``SNAPFIX_DAILY_UPLOAD_LIMIT``): a Redis counter per user and
  day (``INCR``, atomic; expires after two days). Every URL asked for counts, refused ones
  too, so hammering the endpoint ends in this cheap refusal. Past it: ``429`` with
  ``Retry-After`` until midnight UTC. Redis down: ``503`` (closed), as the upload itself needs
  Redis for its one-time lock, so a URL issued then could not be used reliably anyway.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client import Counter
from redis.asyncio import Redis

REFUSED = Counter("snapfix_media_uploads_refused_total", "Upload URLs refused by a per-user quota", ["quota"])
_COUNT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""
_KEEP_S = 2 * 86_400  # a day's counter outlives its day, whatever the clocks


def daily_key(owner_id: str, day: str) -> str:
    return f"media:uploads:{{{owner_id}}}:{day}"


def seconds_to_midnight(now: datetime) -> int:
    """Until the next UTC day, when the daily count starts again (at least 1)."""
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((midnight - now).total_seconds()) + 1)


class DailyUploads:
    """How many upload URLs each user asked for today (UTC)."""

    def __init__(self, redis: Redis) -> None:
        self._count = redis.register_script(_COUNT)

    async def count(self, owner_id: str, now: datetime) -> int:
        """Count one more for ``owner_id`` today; returns today's count, this one included."""
        return int(await self._count(keys=[daily_key(owner_id, now.strftime("%Y-%m-%d"))], args=[_KEEP_S]))
