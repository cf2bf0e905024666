"""The dead letters of ``snapfix dlq``, without the command line: which topics have a DLQ, a letter and where
it came from, the replay plan and its markers, the summary by reason, and reading a DLQ topic whole."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from aiokafka import ConsumerRecord
from rich.json import JSON

from snapfix_cli import kafka_admin
from snapfix_cli.support import fail, progress
from snapfix_shared.topics import TOPIC_SPECS, Topic

if TYPE_CHECKING:
    from snapfix_shared.settings import KafkaSettings

# Every dead-letter topic of the catalogue, by the topic it holds the letters of.
DLQ_TOPICS: dict[str, str] = {t.dlq: t.value for t in Topic if t.dlq in TOPIC_SPECS}
MARKER = "dlq_replayed"  # the header of a replay marker: the original record it replayed
REPLAYED_FROM = "dlq_replayed_from"  # the header of a replayed copy: the letter it came from
_POSITION = re.compile(r"^(\d+):(\d+)$")


# -- pure: arguments, letters, the replay plan ---------------------------------------------


def dlq_topic(name: str) -> str:
    """The dead-letter topic named (``issues.commands.v1.dlq``, or its topic ``issues.commands.v1``)."""
    name = name.strip()
    if name in DLQ_TOPICS:
        return name
    if f"{name}.dlq" in DLQ_TOPICS:
        return f"{name}.dlq"
    fail(f"{name!r} is no dead-letter topic of SnapFix; the dead-letter topics are: {', '.join(sorted(DLQ_TOPICS))}.")


def position(text: str) -> tuple[int, int]:
    """``<partition>:<offset>``, both whole numbers."""
    match = _POSITION.match(text.strip())
    if match is None:
        fail(f"{text!r} is not a position: write <partition>:<offset>, for example 0:42.")
    return int(match.group(1)), int(match.group(2))


Origin = tuple[str, int, int]


@dataclass(frozen=True)
class Letter:
    """A dead letter as read from its DLQ, with what ``dead_letter`` wrote about it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    raw_headers: tuple[tuple[str, bytes], ...]
    headers: dict[str, str] = field(hash=False, compare=False)

    @classmethod
    def of(cls, record: ConsumerRecord[Any, Any]) -> Letter:
        raw = tuple((str(k), bytes(v) if v is not None else b"") for k, v in record.headers or ())
        return cls(
            record.topic,
            record.partition,
            record.offset,
            record.key,
            record.value or b"",
            raw,
            kafka_admin.headers_text(record),
        )

    @property
    def where(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def reason(self) -> str:
        return self.headers.get("dlq_reason", "unknown")

    @property
    def origin(self) -> Origin | None:
        """The original record (topic, partition, offset), or None when the headers do not say it."""
        try:
            return (
                self.headers["dlq_original_topic"],
                int(self.headers["dlq_original_partition"]),
                int(self.headers["dlq_original_offset"]),
            )
        except (KeyError, ValueError):
            return None

    def unreplayable(self) -> str | None:
        """Why this letter cannot go back to its topic (None: it can)."""
        origin = self.origin
        if origin is None:
            return "its headers do not name its original topic, partition and offset"
        if DLQ_TOPICS.get(self.topic) != origin[0]:
            return f"its original topic {origin[0]!r} is not the one {self.topic} holds letters of"
        if "dlq_truncated_from" in self.headers:
            return f"only part of its body was kept (it had {self.headers['dlq_truncated_from']} bytes)"
        return None

    def replay_headers(self) -> list[tuple[str, bytes]]:
        """The original record's headers (the ``dlq_*`` ones removed) and where the replay came from."""
        kept = [(k, v) for k, v in self.raw_headers if not k.startswith("dlq_")]
        return [*kept, (REPLAYED_FROM, f"{self.topic}:{self.where}".encode())]


def origin_text(origin: Origin) -> str:
    return f"{origin[0]}:{origin[1]}:{origin[2]}"


def marker_origin(record: ConsumerRecord[Any, Any]) -> str | None:
    """The original record a replay marker stands for (None: the record is a letter, not a marker)."""
    return kafka_admin.headers_text(record).get(MARKER)


@dataclass
class Plan:
    """What a replay does: each original record once, with the letters that stand for it."""

    send: dict[Origin, list[Letter]] = field(default_factory=dict)
    already: list[Letter] = field(default_factory=list)
    refused: list[tuple[Letter, str]] = field(default_factory=list)


def plan_replay(letters: Iterable[Letter], replayed: set[str]) -> Plan:
    """Which letters go back (one send per original record), which went back before, which cannot."""
    plan = Plan()
    for letter in letters:
        if (why := letter.unreplayable()) is not None:
            plan.refused.append((letter, why))
            continue
        origin = letter.origin
        assert origin is not None
        if origin_text(origin) in replayed:
            plan.already.append(letter)
        else:
            plan.send.setdefault(origin, []).append(letter)
    return plan


def marker(letter: Letter, origin: Origin, *, now: datetime) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The replay marker of a letter (value, headers): written to the letter's partition once its copy is sent."""
    value = orjson.dumps({"replayed": origin_text(origin), "letter": f"{letter.topic}:{letter.where}", "at": now})
    headers = [
        (MARKER, origin_text(origin).encode()),
        ("dlq_replayed_letter", f"{letter.topic}:{letter.where}".encode()),
        ("dlq_replayed_at", now.isoformat().encode()),
    ]
    return value, headers


@dataclass
class Summary:
    """Per DLQ topic and reason: how many letters, how many replayed, which groups, the last failure."""

    count: int = 0
    replayed: int = 0
    groups: set[str] = field(default_factory=set)
    last_failed_at: str = ""


def summarise(letters: Iterable[Letter], replayed: set[str]) -> dict[str, Summary]:
    by_reason: dict[str, Summary] = defaultdict(Summary)
    for letter in letters:
        summary = by_reason[letter.reason]
        summary.count += 1
        origin = letter.origin
        summary.replayed += int(origin is not None and origin_text(origin) in replayed)
        if group := letter.headers.get("dlq_consumer_group"):
            summary.groups.add(group)
        summary.last_failed_at = max(summary.last_failed_at, letter.headers.get("dlq_failed_at", ""))
    return dict(sorted(by_reason.items()))


def readable_body(value: bytes) -> Any:
    """The body for a person: pretty JSON when it is JSON, else its text (or a hex dump when it is not text)."""
    try:
        return JSON(orjson.dumps(orjson.loads(value), option=orjson.OPT_INDENT_2).decode())
    except orjson.JSONDecodeError:
        pass
    try:
        return value.decode()
    except UnicodeDecodeError:
        shown = value[:512]
        more = f"\n… {len(value) - len(shown)} more bytes" if len(value) > len(shown) else ""
        return f"(not UTF-8 text: {len(value)} bytes)\n{shown.hex(' ', 2)}{more}"


# -- reading a DLQ ------------------------------------------------------------------------


@dataclass
class Contents:
    letters: list[Letter]
    replayed: set[str]  # original records with a replay marker


async def read_dlq(settings: KafkaSettings, topic: str) -> Contents:
    """Every letter and every replay marker of a DLQ topic, from its beginning to its end now."""
    letters: list[Letter] = []
    replayed: set[str] = set()
    async with kafka_admin.consumer(settings) as client:
        partitions = await kafka_admin.partitions_of(client, topic)
        if not partitions:
            fail(f"the topic {topic} does not exist on this cluster (create the topics first).")
        limits = await kafka_admin.bounds(client, partitions)
        with progress() as bar:
            task = bar.add_task(f"reading {topic}", total=limits.count())
            async for record in kafka_admin.read_range(client, limits):
                bar.advance(task)
                if (origin := marker_origin(record)) is not None:
                    replayed.add(origin)
                elif record.value is not None:
                    letters.append(Letter.of(record))
    return Contents(letters, replayed)
