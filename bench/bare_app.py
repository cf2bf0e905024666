"""The baseline for the gateway benchmark: a bare FastAPI endpoint with the same body model.

No auth, no rate limit, no Kafka, no telemetry: what one uvicorn worker does at best.
"""

from __future__ import annotations

import os

import uvicorn
from fastapi import FastAPI, Response, status
from uuid_utils.compat import uuid7

from snapfix_gateway.routes.issues import Accepted, ReportIssueRequest

app = FastAPI()


@app.post("/v1/issues", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def report_issue(body: ReportIssueRequest, response: Response) -> Accepted:
    issue_id = uuid7()
    response.headers["Location"] = f"/v1/issues/{issue_id}"
    return Accepted(id=issue_id)


@app.get("/readyz")
async def readyz() -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["SNAPFIX_HTTP_PORT"]), log_level="warning", access_log=False)
