"""``snapfix_shared.tally``: hot-path counts reach Prometheus when flushed, and every scrape flushes."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY, Counter
from prometheus_client.parser import text_string_to_metric_families

from snapfix_shared.health import health_router
from snapfix_shared.http_metrics import record
from snapfix_shared.tally import Tally, flush_all

pytestmark = pytest.mark.unit

COUNTER = Counter("snapfix_test_tally_total", "A counter of this test's", ["kind"])
ONE, OTHER = Tally(COUNTER.labels("one")), Tally(COUNTER.labels("other"))


def counted(kind: str) -> float:
    return REGISTRY.get_sample_value("snapfix_test_tally_total", {"kind": kind}) or 0.0


def test_counts_reach_the_counter_when_flushed_and_only_once() -> None:
    flush_all()
    one, other = counted("one"), counted("other")
    ONE.count += 1
    ONE.count += 1
    OTHER.count += 1
    assert (counted("one"), counted("other")) == (one, other)  # not yet: counted in plain ints
    flush_all()
    assert (counted("one"), counted("other")) == (one + 2, other + 1)
    assert (ONE.count, OTHER.count) == (0, 0)
    flush_all()  # nothing counted since: nothing added twice
    assert (counted("one"), counted("other")) == (one + 2, other + 1)


def scraped_count(text: str, labels: dict[str, str]) -> float | None:
    """The value of ``snapfix_http_requests_total`` with ``labels`` in a scrape (None: not there)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "snapfix_http_requests_total" and sample.labels == labels:
                return float(sample.value)
    return None


async def test_a_scrape_answers_with_every_count_made_before_it() -> None:
    app = FastAPI()
    app.include_router(health_router({}))
    labels = {"service": "tally-test", "method": "GET", "route": "/tallied", "status": "200"}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert scraped_count((await client.get("/metrics")).text, labels) is None
        for _ in range(3):
            record("tally-test", "GET", "/tallied", 200, 0.001)
        scraped = (await client.get("/metrics")).text

    assert scraped_count(scraped, labels) == 3
