"""Opaque cursors for list answers: base64 of the last item's sort key and id."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any, TypeVar

import orjson

T = TypeVar("T")


class BadCursor(ValueError):
    """The cursor was not made by us (or was tampered with)."""


def encode_cursor(key: Any, item_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"k": key, "id": item_id})).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, str]:
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key = raw["k"]
        if not all(isinstance(k, (int, float)) for k in (key if isinstance(key, list) else [key])):
            raise BadCursor("not a cursor of this list")
        return key, str(raw["id"])
    except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BadCursor("not a cursor of this list") from exc


SortKey = tuple[float, ...]


def page_in_memory(
    rows: Iterable[tuple[SortKey, str, T]], *, cursor: str | None, limit: int, descending: bool = False
) -> tuple[list[T], str | None]:
    """One page of rows sorted by ``(key, id)``, after the cursor's row; and the next cursor."""
    ordered = sorted(rows, key=lambda r: (r[0], r[1]), reverse=descending)
    if cursor is not None:
        key, last = decode_cursor(cursor)
        mark = (tuple(key) if isinstance(key, list) else (key,), last)
        ordered = [r for r in ordered if ((r[0], r[1]) < mark if descending else (r[0], r[1]) > mark)]
    chunk = ordered[:limit]
    more = len(ordered) > limit
    if not chunk or not more:
        return [r[2] for r in chunk], None
    last_key, last_id, _ = chunk[-1]
    return [r[2] for r in chunk], encode_cursor(list(last_key), last_id)
