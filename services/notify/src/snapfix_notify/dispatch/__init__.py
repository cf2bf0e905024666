"""Sending: the one delivery engine (``engine.py``: leases, the send loop, retries, announcements),
the notices' plug on it (``dispatcher.py``) and their outbox (``repository.py``). The webhooks'
plug is ``webhooks/dispatcher.py``."""

from snapfix_notify.dispatch.dispatcher import Dispatcher, delivery_key, new_delivery
from snapfix_notify.dispatch.engine import Engine, HalfJitter, backoff_s
from snapfix_notify.dispatch.repository import Deliveries

__all__ = ["Deliveries", "Dispatcher", "Engine", "HalfJitter", "backoff_s", "delivery_key", "new_delivery"]
