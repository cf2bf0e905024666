"""The documented restore procedure, run for real against the stack's Mongo-wire server.

A service database shaped like the issues service's (its collections, its documents'
types, its indexes from the Beanie models) is dumped with deploy/backup/mongo_backup.py,
dropped, restored, and compared document for document, byte for byte.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError

from snapfix_issues.models import Comment, Report
from tests.stack import Stack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "deploy" / "backup" / "mongo_backup.py"
RAW = CodecOptions(document_class=RawBSONDocument)
REPORTS = 250
BATCH = ("--batch-size", "100")  # several batches each way


def run_tool(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, str(TOOL), *args, *BATCH], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def make_report(n: int, **overrides: Any) -> dict[str, Any]:
    created = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n)
    doc = {
        "_id": uuid.uuid4(),
        "command_id": uuid.uuid4(),
        "title": f"Pothole #{n} on Main St",
        "description": "Déjà vu: a deep one \u2014 with unicode",
        "category": "pothole",
        "status": "new",
        "location": {"lat": 52.52 + n / 1000, "lon": 13.405},
        "geohash": "u33dc0" + "0123456789"[n % 10],
        "reporter_id": f"user-{n % 7}",
        "photo_ids": [uuid.uuid4() for _ in range(n % 3)],
        "votes": n,
        "created_at": created,
        "updated_at": created,
        "blob": bytes(range(n % 256)),
    }
    doc.update(overrides)
    return doc


def snapshot(client: MongoClient[Any], name: str) -> dict[str, list[bytes]]:
    db = client[name]
    return {
        coll: sorted(d.raw for d in db.get_collection(coll, codec_options=RAW).find())
        for coll in sorted(db.list_collection_names())
        if not coll.startswith("system.")
    }


def index_specs(client: MongoClient[Any], name: str) -> dict[str, set[tuple[str, str, bool]]]:
    db = client[name]
    return {
        coll: {(i["name"], str(dict(i["key"])), bool(i.get("unique"))) for i in db[coll].list_indexes()}
        for coll in db.list_collection_names()
    }


@pytest.fixture
def service_db(stack: Stack) -> Any:
    name = f"snapfix_issues_backup_{uuid.uuid4().hex[:8]}"
    with MongoClient(stack.mongo_url, uuidRepresentation="standard", serverSelectionTimeoutMS=5000) as client:
        db = client[name]
        for model, collection in ((Report, "reports"), (Comment, "comments")):
            for index in model.Settings.indexes:  # the service's own index declarations
                db[collection].create_indexes([index])
        db.reports.insert_many([make_report(n) for n in range(REPORTS)])
        report_id = db.reports.find_one({}, {"_id": 1})["_id"]
        db.comments.insert_many(
            [
                {"_id": uuid.uuid4(), "issue_id": report_id, "body": f"comment {n}", "created_at": datetime.now(UTC)}
                for n in range(10)
            ]
        )
        yield client, name
        client.drop_database(name)


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_a_dropped_service_database_comes_back_identical(
    service_db: Any, stack: Stack, tmp_path: Path, gzipped: bool
) -> None:
    client, name = service_db
    before = snapshot(client, name)
    indexes_before = index_specs(client, name)
    assert len(before["reports"]) == REPORTS

    run_tool("dump", "--uri", stack.mongo_url, "--db", name, "--out", str(tmp_path), *(["--gzip"] if gzipped else []))
    suffix = ".bson.gz" if gzipped else ".bson"
    assert (tmp_path / name / f"reports{suffix}").stat().st_size > 0
    assert (tmp_path / name / ("reports.metadata.json" + (".gz" if gzipped else ""))).exists()

    client.drop_database(name)
    assert snapshot(client, name) == {}

    out = run_tool("restore", "--uri", stack.mongo_url, "--dir", str(tmp_path), "--db", name, "--drop")
    assert f'"reports": {REPORTS}' in out
    assert snapshot(client, name) == before
    assert index_specs(client, name) == indexes_before
    # The restored unique index is a working one, not just a listed one.
    existing = client[name].reports.find_one({})
    with pytest.raises(DuplicateKeyError):
        client[name].reports.insert_one(make_report(1, command_id=existing["command_id"]))
