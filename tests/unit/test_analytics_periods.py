"""The period a query reads: its defaults fit the window size asked for.

Found by the authorization matrix: ``GET /v1/analytics/timeseries`` with no parameters (window
1h, the default) answered 422, since its default period ended on the next whole minute."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from snapfix_analytics.queries import Period
from snapfix_analytics.windows import WINDOWS
from snapfix_shared.messages.analytics import WindowSize

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 25, 10, 17, 42, tzinfo=UTC)


@pytest.mark.parametrize("window", WINDOWS)
def test_the_default_period_is_aligned_to_the_window_asked_for(window: WindowSize) -> None:
    period = Period.parse(None, None, now=NOW, align=window)
    assert WINDOWS.index(period.resolution()) >= WINDOWS.index(window)
    assert period.start < NOW < period.end  # the window holding now is in it
    assert (period.end - period.start).days == 1


def test_without_an_alignment_the_period_ends_on_the_next_minute() -> None:
    period = Period.parse(None, None, now=NOW)
    assert period.end == datetime(2026, 11, 25, 10, 18, tzinfo=UTC)
    assert period.start == datetime(2026, 11, 24, 10, 18, tzinfo=UTC)


def test_given_bounds_are_kept() -> None:
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)
    assert Period.parse(start, end, now=NOW, align="1h") == Period(start, end)
