"""What the app's lifespan does with the garbage collector: the objects startup built are frozen
while it runs (full collections then walk only what requests create) and thawed at its end; the
youngest generation is collected less often meanwhile."""

from __future__ import annotations

import gc

import pytest
from faststream.kafka import TestKafkaBroker

from snapfix_media.config import MediaSettings
from snapfix_shared.runtime import Runtime

pytestmark = pytest.mark.unit


class Made:
    """An object the collector tracks (a dict of strings alone it would not)."""


async def test_startup_objects_are_frozen_while_the_app_runs_and_thawed_after() -> None:
    settings = MediaSettings(kafka_bootstrap_servers="127.0.0.1:1", mongo_url="mongodb://127.0.0.1:1/")
    runtime = Runtime("gc-unit", settings)
    built_at_startup: list[Made] = []

    async def build() -> None:
        built_at_startup.append(Made())

    runtime.on_startup.append(build)
    gc.unfreeze()
    thresholds = gc.get_threshold()
    app = runtime.app(title="gc-unit")
    async with TestKafkaBroker(runtime.broker):
        async with runtime.lifespan(app):
            assert gc.get_freeze_count() > 0
            # The youngest generation is collected as the settings say; the older ones as before.
            assert gc.get_threshold() == (settings.gc_young_threshold, *thresholds[1:])
            assert settings.gc_young_threshold != thresholds[0]
            # The startup's objects are out of the collector's generations; a request's are not.
            assert not any(obj is built_at_startup[0] for obj in gc.get_objects())
            made_by_a_request = Made()
            assert any(obj is made_by_a_request for obj in gc.get_objects())
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == thresholds
        assert any(obj is built_at_startup[0] for obj in gc.get_objects())
