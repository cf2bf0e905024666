"""Dump and restore SnapFix databases in mongodump's layout, with PyMongo only.

    python deploy/backup/mongo_backup.py dump    --uri URI --db snapfix_issues [--db ...] --out DIR [--gzip]
    python deploy/backup/mongo_backup.py restore --uri URI --dir DIR [--db snapfix_issues ...] [--drop]

Why this exists: production backs up with the real ``mongodump`` (the CronJob of
deploy/k8s/overlays/prod) and Percona Backup for MongoDB, but MongoDB's database tools
cannot be installed here (no Debian package; the Go module proxy refuses
github.com/mongodb/mongo-tools), and the local stack's FerretDB speaks the wire protocol
only. This tool writes what ``mongodump`` writes (``<dir>/<db>/<collection>.bson``, the
documents as concatenated raw BSON, and ``<collection>.metadata.json`` with the index
specifications in Extended JSON; ``.gz`` with ``--gzip``), so its dumps restore with
``mongorestore`` and a ``mongodump`` directory (not an ``--archive``) restores with it.

Documents are copied as raw BSON bytes, never decoded, so types (UUIDs, dates, binary,
decimals) survive exactly. A dump is not a point-in-time snapshot of a live database
(like ``mongodump`` without ``--oplog``): the services' handlers are idempotent and their
commands are replayable from Kafka (7 days), which covers the writes made during a dump.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from bson import decode_file_iter, json_util
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import IndexModel, MongoClient
from pymongo.database import Database

RAW = CodecOptions(document_class=RawBSONDocument)
BATCH = 1000
# Options of an index specification that createIndexes accepts back (the rest is server bookkeeping).
INDEX_OPTIONS = {"unique", "sparse", "expireAfterSeconds", "partialFilterExpression", "collation", "hidden"}


def client(uri: str, timeout_ms: int) -> MongoClient[Any]:
    return MongoClient(
        uri,
        uuidRepresentation="standard",
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms, 60_000),  # one batch of a large collection may take a while
        retryWrites=False,  # FerretDB has no retryable writes; restores are idempotent per run anyway
    )


def _open(path: Path, mode: str, gzipped: bool) -> IO[bytes]:
    return gzip.open(path, mode + "b") if gzipped else path.open(mode + "b")


def user_collections(db: Database[Any]) -> list[str]:
    return sorted(name for name in db.list_collection_names() if not name.startswith("system."))


def dump_database(db: Database[Any], out: Path, *, gzipped: bool, batch: int = BATCH) -> dict[str, int]:
    """Write every collection of ``db`` under ``out/<db>/``; return the document count of each."""
    target = out / db.name
    target.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gzipped else ""
    counts: dict[str, int] = {}
    for name in user_collections(db):
        collection = db.get_collection(name, codec_options=RAW)
        count = 0
        with _open(target / f"{name}.bson{suffix}", "w", gzipped) as f:
            # Ordered by _id so that two dumps of the same data are byte-identical.
            for doc in collection.find({}, sort=[("_id", 1)], batch_size=batch):
                f.write(doc.raw)
                count += 1
        metadata = {
            "collectionName": name,
            "type": "collection",
            "options": {},
            "indexes": list(collection.list_indexes()),
        }
        with _open(target / f"{name}.metadata.json{suffix}", "w", gzipped) as f:
            f.write(json_util.dumps(metadata, json_options=json_util.CANONICAL_JSON_OPTIONS).encode())
        counts[name] = count
    return counts


def _batches(f: IO[bytes], size: int) -> Iterator[list[RawBSONDocument]]:
    batch: list[RawBSONDocument] = []
    for doc in decode_file_iter(f, codec_options=RAW):
        batch.append(doc)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _index_models(metadata: dict[str, Any]) -> list[IndexModel]:
    models = []
    for spec in metadata.get("indexes", []):
        if spec["name"] == "_id_":
            continue
        keys = list(dict(spec["key"]).items())
        options = {k: v for k, v in dict(spec).items() if k in INDEX_OPTIONS}
        models.append(IndexModel(keys, name=spec["name"], **options))
    return models


def restore_database(db: Database[Any], source: Path, *, drop: bool, batch: int = BATCH) -> dict[str, int]:
    """Load every collection dumped under ``source`` (one database's folder) into ``db``."""
    counts: dict[str, int] = {}
    for bson_file in sorted(source.glob("*.bson")) + sorted(source.glob("*.bson.gz")):
        gzipped = bson_file.suffix == ".gz"
        name = bson_file.name.removesuffix(".gz").removesuffix(".bson")
        if drop:
            db.drop_collection(name)
        collection = db.get_collection(name, codec_options=RAW)
        meta_file = source / (f"{name}.metadata.json" + (".gz" if gzipped else ""))
        metadata: dict[str, Any] = {}
        if meta_file.exists():
            with _open(meta_file, "r", gzipped) as f:
                metadata = json_util.loads(f.read().decode())
        # Indexes first: a unique index then refuses what the dump could not have held twice.
        # One per createIndexes call: FerretDB v1 rejects several at once when some exist.
        for model in _index_models(metadata):
            collection.create_indexes([model])
        count = 0
        with _open(bson_file, "r", gzipped) as f:
            for docs in _batches(f, batch):
                collection.insert_many(docs, ordered=True)
                count += len(docs)
        counts[name] = count
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    dump = sub.add_parser("dump", help="dump databases to a directory")
    dump.add_argument("--uri", required=True)
    dump.add_argument("--db", action="append", required=True, help="a database to dump (repeatable)")
    dump.add_argument("--out", type=Path, required=True)
    dump.add_argument("--gzip", action="store_true")
    restore = sub.add_parser("restore", help="restore databases from a dump directory")
    restore.add_argument("--uri", required=True)
    restore.add_argument("--dir", type=Path, required=True)
    restore.add_argument("--db", action="append", help="only these databases (default: every folder)")
    restore.add_argument("--drop", action="store_true", help="drop each collection before restoring it")
    for p in (dump, restore):
        p.add_argument("--timeout-ms", type=int, default=10_000)
        p.add_argument("--batch-size", type=int, default=BATCH, help="documents per read or insert")
    args = parser.parse_args(argv)

    with client(args.uri, args.timeout_ms) as mongo:
        if args.command == "dump":
            report = {
                name: dump_database(mongo[name], args.out, gzipped=args.gzip, batch=args.batch_size) for name in args.db
            }
        else:
            names = args.db or sorted(p.name for p in args.dir.iterdir() if p.is_dir())
            missing = [n for n in names if not (args.dir / n).is_dir()]
            if missing:
                print(f"not in {args.dir}: {', '.join(missing)}", file=sys.stderr)
                return 2
            report = {
                name: restore_database(mongo[name], args.dir / name, drop=args.drop, batch=args.batch_size)
                for name in names
            }
    print(json.dumps({args.command: report}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
