"""The relayed bodies declared once in ``snapfix_shared.schemas`` name what their services use.

``snapfix_shared`` imports no service, so the few closed sets its models repeat (a platform, a
status, a measure) are compared here with the service's own; and each service's ``schemas.py``
serves the shared model itself, not a copy.
"""

from __future__ import annotations

from types import ModuleType
from typing import get_args

import pytest

from snapfix_shared.schemas import analytics, media, notify

pytestmark = pytest.mark.unit


def test_the_closed_sets_are_the_services_own() -> None:
    from snapfix_analytics.queries import Measure
    from snapfix_media.models import MediaStatus
    from snapfix_notify.channels.push.devices.models import Platform
    from snapfix_notify.channels.webhook.models import DeliveryStatus

    assert get_args(analytics.Measure) == get_args(Measure)
    assert get_args(media.MediaStatus) == get_args(MediaStatus)
    assert get_args(notify.Platform) == get_args(Platform)
    assert get_args(notify.DeliveryStatus) == get_args(DeliveryStatus)


def test_each_service_documents_its_answers_with_the_shared_models() -> None:
    from snapfix_analytics import schemas as analytics_schemas
    from snapfix_media import schemas as media_schemas
    from snapfix_notify import schemas as notify_schemas

    assert (notify_schemas.FeedPage, notify_schemas.PreferencesOut, notify_schemas.UserExport) == (
        notify.FeedPage,
        notify.Preferences,
        notify.NotifyPart,
    )
    assert (media_schemas.UploadTicket, media_schemas.MediaState) == (media.UploadTicket, media.MediaState)
    assert (analytics_schemas.Summary, analytics_schemas.LateCounts) == (analytics.Summary, analytics.LateCounts)


@pytest.mark.parametrize("module", [analytics, media, notify])
def test_every_relayed_body_refuses_what_it_does_not_document(module: ModuleType) -> None:
    from pydantic import BaseModel

    models = [m for m in vars(module).values() if isinstance(m, type) and issubclass(m, BaseModel)]
    declared = [m for m in models if m.__module__ == module.__name__ and not m.__name__.startswith("_")]
    assert declared
    for model in declared:
        assert model.model_config.get("extra") == "forbid", model
