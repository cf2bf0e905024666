"""docs/operations.md says which index serves which store query in MongoDB; this keeps it true.

Every key pattern its tables name for a collection must be declared for that collection (a
Beanie document's ``Settings.indexes``, or a literal ``create_index`` call), and every declared
index must be named there, so a renamed, dropped or added index fails until the doc follows.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from beanie import Document
from pymongo import IndexModel

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "operations.md"
SECTION = "### Queries and the indexes that serve them (MongoDB)"
# Each service's database and the package that owns it.
PACKAGES = {
    "snapfix_issues": ROOT / "services/issues/src/snapfix_issues",
    "snapfix_analytics": ROOT / "services/analytics/src/snapfix_analytics",
    "snapfix_media": ROOT / "services/media/src/snapfix_media",
    "snapfix_notify": ROOT / "services/notify/src/snapfix_notify",
    "snapfix_gateway": ROOT / "gateway/src/snapfix_gateway",
}
ID = (("_id", 1),)
# Collections the driver makes for us (GridFS's files, read by _id), with no declaration in our code.
DRIVER_COLLECTIONS = {"snapfix_media": ["fs.files"]}

Key = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Row:
    database: str
    collections: tuple[str, ...]
    keys: tuple[Key, ...]
    line: int


def parse_key(text: str) -> Key:
    """``{a: 1, b: -1}`` as ``(("a", 1), ("b", -1))``."""
    fields = []
    for part in text.strip().removeprefix("{").removesuffix("}").split(","):
        name, sep, direction = part.partition(":")
        if not sep or direction.strip() not in {"1", "-1"}:
            raise ValueError(f"not a key pattern: {text}")
        fields.append((name.strip(), int(direction)))
    return tuple(fields)


def documented(text: str) -> list[Row]:
    """The rows of the section's tables: database (its ``####`` heading), collections, index keys."""
    lines = text.splitlines()
    start = lines.index(SECTION)
    rows: list[Row] = []
    database = ""
    for number, line in enumerate(lines[start + 1 :], start=start + 2):
        if line.startswith(("## ", "### ")):
            break
        if line.startswith("#### "):
            database = line.removeprefix("#### ").strip()
            continue
        if not line.startswith("| `"):
            continue  # prose, a table's header or separator
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 4, f"line {number}: a row has four cells: {line}"
        assert database in PACKAGES, f"line {number}: a row outside a database's table"
        collections = tuple(re.findall(r"`([^`]+)`", cells[0]))
        keys = tuple(parse_key(k) for k in re.findall(r"`(\{[^`]*\})`", cells[2]))
        rows.append(Row(database, collections, keys, number))
    return rows


def _key_of(index: Any) -> Key:
    if isinstance(index, IndexModel):
        return tuple((name, int(direction)) for name, direction in index.document["key"].items())
    if isinstance(index, str):
        return ((index, 1),)
    return tuple((name, int(direction)) for name, direction in index)


def _modules(package: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _created(source: str) -> Iterator[tuple[str, Key]]:
    """``db["name"].create_index([("a", 1), ...])`` calls with literal arguments."""
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        target = node.func.value
        if node.func.attr != "create_index" or not isinstance(target, ast.Subscript):
            continue
        name = target.slice.value if isinstance(target.slice, ast.Constant) else None
        if isinstance(name, str) and node.args:
            yield name, _key_of(ast.literal_eval(node.args[0]))


def declared(database: str) -> dict[str, set[Key]]:
    """Every collection of the database with its indexes, ``_id`` included."""
    found: dict[str, set[Key]] = {c: {ID} for c in DRIVER_COLLECTIONS.get(database, [])}
    for name, path in _modules(PACKAGES[database]):
        source = path.read_text()
        for collection, key in _created(source):
            found.setdefault(collection, {ID}).add(key)
        if "from beanie import Document" not in source:
            continue
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            settings = cls.__dict__.get("Settings")
            if cls.__module__ != name or not issubclass(cls, Document) or settings is None:
                continue
            keys = found.setdefault(settings.name, {ID})
            keys.update(_key_of(i) for i in getattr(settings, "indexes", None) or [])
    return found


def problems(rows: list[Row], indexes: dict[str, dict[str, set[Key]]]) -> list[str]:
    """What the doc says that the code does not declare, and what the code declares that the doc leaves out."""
    out: list[str] = []
    named: dict[tuple[str, str], set[Key]] = {}
    for row in rows:
        for collection in row.collections:
            if collection not in indexes[row.database]:
                out.append(f"line {row.line}: {row.database}.{collection} is no collection of that database")
                continue
            named.setdefault((row.database, collection), set()).update(row.keys)
            out += [
                f"line {row.line}: {row.database}.{collection} declares no index {dict(key)}"
                for key in row.keys
                if key not in indexes[row.database][collection]
            ]
    for database, collections in indexes.items():
        for collection, keys in collections.items():
            out += [
                f"{database}.{collection}: index {dict(key)} is declared but not in the doc"
                for key in sorted(keys - {ID} - named.get((database, collection), set()))
            ]
    return out


@pytest.fixture(scope="module")
def indexes() -> dict[str, dict[str, set[Key]]]:
    return {database: declared(database) for database in PACKAGES}


def test_the_doc_names_exactly_the_declared_indexes(indexes: dict[str, dict[str, set[Key]]]) -> None:
    rows = documented(DOC.read_text())
    assert {r.database for r in rows} == set(PACKAGES), "a table per service database"
    assert sum(len(r.keys) for r in rows) > 50, "the tables were parsed"
    assert problems(rows, indexes) == []


def test_a_renamed_or_undocumented_index_is_caught(indexes: dict[str, dict[str, set[Key]]]) -> None:
    text = DOC.read_text()
    assert "`{geohash: 1}`" in text
    assert "`{token: 1}`" in text
    renamed = documented(text.replace("`{geohash: 1}`", "`{geohash: 1, status: 1}`"))
    assert any(
        "snapfix_issues.reports declares no index {'geohash': 1, 'status': 1}" in p for p in problems(renamed, indexes)
    )
    dropped = documented(text.replace("`{token: 1}`", "none"))
    assert problems(dropped, indexes) == [
        "snapfix_notify.push_devices: index {'token': 1} is declared but not in the doc"
    ]


def test_the_declared_indexes_are_found(indexes: dict[str, dict[str, set[Key]]]) -> None:
    # Both kinds of declaration are read: Beanie settings (single-field, compound, subclassed) and create_index.
    assert (("email", 1),) in indexes["snapfix_gateway"]["accounts"]
    assert (("user_id", 1), ("created_at", -1), ("_id", -1)) in indexes["snapfix_notify"]["notifications"]
    assert (("start", 1),) in indexes["snapfix_analytics"]["windows_1h"]
    assert (("files_id", 1), ("n", 1)) in indexes["snapfix_media"]["fs.chunks"]
