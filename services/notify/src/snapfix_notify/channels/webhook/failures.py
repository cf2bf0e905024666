"""Webhook deliveries that failed for good, announced as ``NotificationFailed`` on ``notify.events.v1``.

A failed delivery is stored with ``announced: False`` in the same write that fails it;
the dispatcher publishes its event, then sets ``announced``. A crash or a Kafka outage
in between leaves it unannounced, and the dispatcher's sweep publishes it later: once
per failed delivery, or (a crash between the ack and the mark) again with the same
``notification_key``, which consumers deduplicate on.
"""

from __future__ import annotations

from snapfix_notify.channels.webhook.models import WebhookDelivery
from snapfix_shared.messages import NotificationFailed

CHANNEL = "webhook"


def failure_event(delivery: WebhookDelivery) -> NotificationFailed:
    """The event announcing a failed delivery, from its stored state."""
    reason = delivery.reason or "failed"
    last_error = (delivery.attempts[-1].get("error") if delivery.attempts else None) or ""
    endpoint_id = str(delivery.endpoint_id)
    return NotificationFailed(
        correlation_id=f"notify-webhook-{delivery.event_id}",
        causation_id=str(delivery.event_id),
        recipient_id=endpoint_id,  # an integrator, not a user: its endpoint stands in
        endpoint_id=endpoint_id,
        notification_key=delivery.id,
        channel=CHANNEL,
        moment=delivery.event_type[:64],
        cause_id=str(delivery.event_id),
        attempts=delivery.attempt_count,
        reason="exhausted" if reason.startswith("gave up") else "permanent",
        error=(f"{reason}: {last_error}" if last_error and last_error not in reason else reason)[:1000],
    )
