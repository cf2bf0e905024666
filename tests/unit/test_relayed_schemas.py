"""The relayed bodies declared once in ``snapfix_shared.schemas`` name what their services use.

``snapfix_shared`` imports no service, so the few closed sets its models repeat (a platform, a
status) are compared here with the service's own (a measure is the service's own: its queries
import it); and each service serves the shared model itself, not a copy.
"""

from __future__ import annotations

from types import ModuleType
from typing import get_args

import pytest
from fastapi.routing import APIRoute

from snapfix_shared.schemas import analytics, issues, media, notify

pytestmark = pytest.mark.unit


def test_the_closed_sets_are_the_services_own() -> None:
    from snapfix_analytics.queries import Measure
    from snapfix_media.models import MediaStatus
    from snapfix_notify.channels.push.devices.models import Platform
    from snapfix_notify.channels.webhook.models import DeliveryStatus

    assert Measure is analytics.Measure
    assert get_args(media.MediaStatus) == get_args(MediaStatus)
    assert get_args(notify.Platform) == get_args(Platform)
    assert get_args(notify.DeliveryStatus) == get_args(DeliveryStatus)


def test_each_service_documents_its_answers_with_the_shared_models() -> None:
    from snapfix_analytics import schemas as analytics_schemas
    from snapfix_issues import schemas as issues_schemas
    from snapfix_media import schemas as media_schemas
    from snapfix_notify import schemas as notify_schemas
    from snapfix_notify.channels.push.devices.api import router as devices
    from snapfix_notify.channels.webhook.api import router as webhooks

    assert (notify_schemas.FeedPage, notify_schemas.PreferencesOut, notify_schemas.UserExport) == (
        notify.FeedPage,
        notify.Preferences,
        notify.NotifyPart,
    )
    assert (media_schemas.UploadTicket, media_schemas.MediaState) == (media.UploadTicket, media.MediaState)
    assert (analytics_schemas.Summary, analytics_schemas.LateCounts) == (analytics.Summary, analytics.LateCounts)
    assert issues_schemas.UserExport is issues.IssuesPart
    # notify's push devices and webhook endpoints answer with the shared models (list[...] included).
    answered = {
        model
        for route in [*devices.routes, *webhooks.routes]
        if isinstance(route, APIRoute)
        for model in (route.response_model, *get_args(route.response_model))
        if isinstance(model, type)
    }
    assert answered == {notify.DeviceView, notify.EndpointView, notify.CreatedEndpoint, notify.DeliveryPage}


@pytest.mark.parametrize("module", [analytics, issues, media, notify])
def test_every_relayed_body_refuses_what_it_does_not_document(module: ModuleType) -> None:
    from pydantic import BaseModel

    models = [m for m in vars(module).values() if isinstance(m, type) and issubclass(m, BaseModel)]
    declared = [m for m in models if m.__module__ == module.__name__ and not m.__name__.startswith("_")]
    assert declared
    for model in declared:
        assert model.model_config.get("extra") == "forbid", model
