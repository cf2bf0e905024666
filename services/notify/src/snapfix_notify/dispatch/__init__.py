"""Sending the recorded deliveries: the dispatcher (``dispatcher.py``) and its outbox (``repository.py``)."""

from snapfix_notify.dispatch.dispatcher import Dispatcher, backoff_s, delivery_key, new_delivery
from snapfix_notify.dispatch.repository import Deliveries

__all__ = ["Deliveries", "Dispatcher", "backoff_s", "delivery_key", "new_delivery"]
