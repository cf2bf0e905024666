"""The baselines for the gateway benchmark: a bare FastAPI endpoint with the same body model.

No auth, no rate limit, no Kafka, no telemetry: what one uvicorn worker does at best. Its garbage
collector is set as every SnapFix process's is (``runtime.freeze_startup_objects``), so that the
ratios do not count that setting as the gateway's own gain; ``BARE_GC=default`` leaves CPython's
own, to measure what the setting is worth to a bare endpoint.

With ``BARE_PRODUCE_TOPIC`` set, the endpoint also hands the body to Kafka and answers only
after the broker's ack (aiokafka, acks=all, idempotent, the stack's settings, and the gateway's
publish window and partitioner): the floor of any accept path that keeps the zero-loss rule, with nothing else
of the gateway's work.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import orjson
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, Response, status
from uuid_utils.compat import uuid7

from snapfix_gateway.config import GatewaySettings
from snapfix_gateway.routes.issue_requests import Accepted, ReportIssueRequest
from snapfix_shared.kafka import java_partitioner
from snapfix_shared.publish_window import PublishWindow
from snapfix_shared.runtime import freeze_startup_objects
from snapfix_shared.settings import ProcessSettings

PRODUCE_TOPIC = os.environ.get("BARE_PRODUCE_TOPIC")
producer: AIOKafkaProducer | None = None
# The gateway's publish window, read as the gateway reads it.
window = PublishWindow(GatewaySettings().kafka_linger_ms / 1000)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    global producer  # noqa: PLW0603 - one producer for the process, as in the gateway
    if PRODUCE_TOPIC:
        producer = AIOKafkaProducer(
            bootstrap_servers=os.environ["SNAPFIX_KAFKA_BOOTSTRAP_SERVERS"],
            acks="all",
            enable_idempotence=True,
            partitioner=java_partitioner,
        )
        await producer.start()
    if os.environ.get("BARE_GC") != "default":
        freeze_startup_objects(ProcessSettings().gc_young_threshold)
    try:
        yield
    finally:
        if producer is not None:
            await producer.stop()


app = FastAPI(lifespan=lifespan)


async def hand_over(
    producer: AIOKafkaProducer, topic: str, body: ReportIssueRequest, issue_id: UUID
) -> list[asyncio.Future[Any]]:
    ack: asyncio.Future[Any] = await producer.send(topic, body.model_dump_json().encode(), key=str(issue_id).encode())
    return [ack]


@app.post("/v1/issues", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def report_issue(body: ReportIssueRequest, response: Response) -> Accepted:
    issue_id = uuid7()
    if producer is not None and PRODUCE_TOPIC:
        # In the gateway's window, as the gateway hands a command over: one wait, for the ack.
        await window.join(functools.partial(hand_over, producer, PRODUCE_TOPIC, body, issue_id), timeout_s=5)
    response.headers["Location"] = f"/v1/issues/{issue_id}"
    return Accepted(id=issue_id)


# About the size of one issue as GET /v1/issues/{id} shows it.
ISSUE = {
    "title": "Pothole on Main St",
    "description": "Deep, near the bus stop",
    "category": "pothole",
    "lat": 52.52,
    "lon": 13.405,
    "address": None,
    "attributes": {},
    "media_ids": [],
    "anonymous": False,
    "reporter_id": "01a214af-7a77-7585-be5b-41d730f90259",
    "status": "open",
    "department": "roads",
    "assignee_id": None,
    "priority": "normal",
    "created_at": "2026-11-25T21:49:34.391000+00:00",
    "updated_at": None,
    "due_at": "2026-11-28T21:49:34.391000+00:00",
    "resolved_at": None,
    "overdue": False,
    "votes": 0,
    "followers": 0,
    "history": [],
    "comments": [],
}


@app.get("/v1/issues/{issue_id}")
async def get_issue(issue_id: str) -> Response:
    return Response(orjson.dumps({"id": issue_id, **ISSUE}), media_type="application/json")


@app.get("/readyz")
async def readyz() -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["SNAPFIX_HTTP_PORT"]), log_level="warning", access_log=False)
