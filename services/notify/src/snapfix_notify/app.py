"""Composition root of the notify service: who is told what, on which channel, exactly once.

Consumers of ``users.events.v1`` (group notify-users) and ``issues.events.v1`` (group
notify-issues) keep notify's own projection and record deliveries; the dispatcher sends
them over the channels below (one line each) and retries what failed; sweeps tell staff
about overdue reports and send area digests; the API serves the feed, preferences,
watches and one-click unsubscribe.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI

from snapfix_notify import api, consumers
from snapfix_notify.cache import ContactCache
from snapfix_notify.channels import Channel, push, webhook
from snapfix_notify.channels.email import EmailChannel
from snapfix_notify.channels.in_app import InAppChannel
from snapfix_notify.claims import DueQueue
from snapfix_notify.config import DEV_UNSUBSCRIBE_SECRET, NotifySettings
from snapfix_notify.dispatch import Deliveries, Dispatcher
from snapfix_notify.models import DOCUMENTS
from snapfix_notify.repository import Contacts, DigestItems, Feed, Issues, Preferences, Watches
from snapfix_notify.service import UserChoices
from snapfix_notify.sweeps import Sweeps
from snapfix_notify.templates import Renderer
from snapfix_notify.unsubscribe import UnsubscribeTokens
from snapfix_shared.runtime import Runtime
from snapfix_shared.sealing import LinkSeal

log = logging.getLogger(__name__)


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    settings = settings or NotifySettings()
    runtime = Runtime("notify", settings, mongo_database=settings.mongo_database, documents=DOCUMENTS)
    assert runtime.redis is not None
    secret = settings.unsubscribe_secret.get_secret_value()
    if secret == DEV_UNSUBSCRIBE_SECRET:
        log.warning("SNAPFIX_UNSUBSCRIBE_SECRET is not set: using the development secret (never in production)")
    contacts = Contacts(ContactCache(runtime.redis, f"notify:{settings.mongo_database}:"))
    issues, prefs = Issues(), Preferences()
    watches, digests, feed = Watches(), DigestItems(), Feed()
    tokens = UnsubscribeTokens(secret, base_url=settings.public_base_url, web_base_url=settings.web_base_url)

    email = EmailChannel(settings)
    channels: dict[str, Channel] = {
        "email": email,
        "in_app": InAppChannel(feed),
    }
    dispatcher = Dispatcher(
        runtime,
        settings,
        channels,
        deliveries=Deliveries(),
        # Namespaced by database: the queue indexes that database's outbox.
        queue=DueQueue(runtime.redis, f"notify:{settings.mongo_database}:due"),
        contacts=contacts,
        renderer=Renderer(app_name=settings.app_name, link_seal=LinkSeal(settings.link_seal_key)),
        tokens=tokens,
    )
    users = consumers.UserEventsHandler(runtime, dispatcher, contacts, group=settings.notify_users_group)
    issue_events = consumers.IssueEventsHandler(
        runtime,
        dispatcher,
        contacts=contacts,
        issues=issues,
        preferences=prefs,
        watches=watches,
        digests=digests,
        base_url=settings.public_base_url,
        web_base_url=settings.web_base_url,
        group=settings.notify_issues_group,
    )
    consumers.register(runtime, users, issue_events, settings)
    sweeps = Sweeps(
        settings, dispatcher, issues=issues, contacts=contacts, preferences=prefs, watches=watches, digests=digests
    )
    runtime.before_start.append(issues.adopt_binary_ids)
    runtime.on_startup += [dispatcher.start, sweeps.start]
    # Stopped before the broker: in-flight sends end at a lease; their records are retried.
    runtime.on_shutdown += [sweeps.stop, dispatcher.stop, email.close]

    app = runtime.app(
        title="SnapFix notify service",
        description="Owns notifications: who is told what, on which channel, exactly once.",
    )
    app.state.runtime, app.state.settings, app.state.dispatcher, app.state.sweeps = (
        runtime,
        settings,
        dispatcher,
        sweeps,
    )
    app.state.feed, app.state.preferences, app.state.watches, app.state.tokens = feed, prefs, watches, tokens
    app.state.choices = UserChoices(prefs, watches, max_watches=api.MAX_WATCHES)
    api.install(app)
    webhook.install(runtime, app, settings)  # integrators' webhooks: their own consumer and delivery loop
    channels["push"] = push.install(runtime, app, settings).channel  # the device registry and PushChannel
    return app
