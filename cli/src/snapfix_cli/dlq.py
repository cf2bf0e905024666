"""``snapfix dlq``: the dead-letter topics (``<topic>.dlq``): list, show, replay, purge.

A consumer sends a record it cannot use to its topic's DLQ, untouched, with headers saying why
(``snapfix_shared.kafka.dead_letter``: ``dlq_reason``, ``dlq_error``, ``dlq_original_topic``,
``dlq_original_partition``, ``dlq_original_offset``, ``dlq_consumer_group``, ``dlq_failed_at``).

Replay sends a dead letter back to its original topic with its key and its original headers
(the ``dlq_*`` ones removed), plus ``dlq_replayed_from: <dlq topic>:<partition>:<offset>``,
through the services' producer (acks=all, idempotence). It is idempotent: once the original
topic acknowledged the copy, a *replay marker* is written to the DLQ partition of the letter
(a record with the header ``dlq_replayed: <original topic>:<partition>:<offset>``), and a letter
whose original record has a marker is never sent again. Letters of the same original record
(one per consumer group that refused it) are sent once. A crash between the two writes can
send a record twice: every consumer dedupes by message id, which absorbs it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from aiokafka import ConsumerRecord, TopicPartition
from rich.json import JSON
from rich.table import Table

from snapfix_cli import kafka_admin
from snapfix_cli.support import confirm, console, fail, guarded, progress, run
from snapfix_shared.topics import TOPIC_SPECS, Topic

if TYPE_CHECKING:
    from snapfix_shared.settings import KafkaSettings

app = typer.Typer(
    help="Dead letters: records a consumer could not use, kept in <topic>.dlq. List, show, replay, purge.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

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


# -- commands -------------------------------------------------------------------------------

TopicArg = Annotated[str, typer.Argument(help="A dead-letter topic (issues.commands.v1.dlq) or its topic")]


@app.command("list")
@guarded
def list_letters(
    topic: Annotated[str | None, typer.Argument(help="Only this dead-letter topic (default: all)")] = None,
) -> None:
    """Count the dead letters of each DLQ topic, by reason (with how many were replayed).

    Example: snapfix dlq list
    """
    names = [dlq_topic(topic)] if topic else sorted(DLQ_TOPICS)
    settings = kafka_admin.settings()

    async def main() -> Table:
        table = Table(title="Dead letters")
        for column in ("DLQ topic", "Reason", "Letters", "Replayed", "Consumer groups", "Last failure"):
            table.add_column(column, justify="right" if column in {"Letters", "Replayed"} else "left")
        for name in names:
            contents = await read_dlq(settings, name)
            summaries = summarise(contents.letters, contents.replayed)
            if not summaries:
                table.add_row(name, "[dim]none[/]", "0", "0", "", "")
            for reason, s in summaries.items():
                table.add_row(
                    name, reason, str(s.count), str(s.replayed), ", ".join(sorted(s.groups)), s.last_failed_at
                )
        return table

    console.print(run(main()))


@app.command()
@guarded
def show(
    topic: TopicArg,
    where: Annotated[str, typer.Argument(metavar="PARTITION:OFFSET", help="The letter's position in its DLQ")],
) -> None:
    """Show one dead letter: its key, every header (why it failed, where it came from) and its body.

    Example: snapfix dlq show issues.commands.v1.dlq 0:42
    """
    name, (partition, offset) = dlq_topic(topic), position(where)
    settings = kafka_admin.settings()

    async def main() -> ConsumerRecord[Any, Any]:
        async with kafka_admin.consumer(settings) as client:
            partitions = await kafka_admin.partitions_of(client, name)
            tp = TopicPartition(name, partition)
            if tp not in partitions:
                fail(f"{name} has no partition {partition} (it has {len(partitions)}).")
            record = await kafka_admin.fetch_one(client, tp, offset)
            if record is None:
                fail(f"{name} holds no record at {partition}:{offset} (purged, or past its end).")
            return record

    record = run(main())
    letter = Letter.of(record)
    kind = "replay marker" if marker_origin(record) is not None else "dead letter"
    console.print(f"[bold]{name} {letter.where}[/] ({kind})")
    console.print(f"key: {letter.key.decode(errors='replace') if letter.key is not None else '(none)'}")
    stamp = datetime.fromtimestamp(record.timestamp / 1000, UTC).isoformat()
    console.print(f"written: {stamp}   body: {len(letter.value)} bytes")
    headers = Table(title="Headers", show_lines=False)
    headers.add_column("Header")
    headers.add_column("Value", overflow="fold")
    for key, value in letter.headers.items():
        headers.add_row(key, value)
    console.print(headers)
    console.print("[bold]Body[/]")
    console.print(readable_body(letter.value))


@app.command()
@guarded
def replay(
    topic: TopicArg,
    where: Annotated[
        str | None, typer.Argument(metavar="[PARTITION:OFFSET]", help="The letter to replay (or --all)")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Replay every letter of the topic (see --reason)")] = False,
    reason: Annotated[str | None, typer.Option(help="With --all: only letters with this dlq_reason")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be sent; send nothing")] = False,
) -> None:
    """Send dead letters back to their original topic, once (a letter replayed before is not sent again).

    Each copy keeps the original key and headers, plus dlq_replayed_from; a replay marker in the
    DLQ records it. A command past its accept_by is dead-lettered again as 'expired' (its sender
    was told it failed): replay is for records a fixed consumer can now use.

    Example: snapfix dlq replay issues.commands.v1.dlq 0:42
    Example: snapfix dlq replay issues.events.v1.dlq --all --reason invalid
    """
    name = dlq_topic(topic)
    if (where is None) == (not every):
        fail("name one letter (PARTITION:OFFSET) or pass --all, not both.")
    if reason is not None and not every:
        fail("--reason selects among all the letters: use it with --all.")
    target = position(where) if where is not None else None
    settings = kafka_admin.settings()

    async def main() -> tuple[Plan, int]:
        contents = await read_dlq(settings, name)
        letters = contents.letters
        if target is not None:
            letters = [x for x in letters if (x.partition, x.offset) == target]
            if not letters:
                fail(f"{name} holds no dead letter at {target[0]}:{target[1]} (see: snapfix dlq list {name}).")
        elif reason is not None:
            letters = [x for x in letters if x.reason == reason]
        plan = plan_replay(letters, contents.replayed)
        if dry_run or not plan.send:
            return plan, 0
        return plan, await _send(settings, plan)

    plan, sent = run(main())
    _report(name, plan, sent, dry_run=dry_run)


async def _send(settings: KafkaSettings, plan: Plan) -> int:
    """Each original record once to its topic (acknowledged), then a marker for each of its letters."""
    sent = 0
    async with kafka_admin.producer(settings) as producer:
        with progress() as bar:
            task = bar.add_task("replaying", total=len(plan.send))
            for origin, letters in plan.send.items():
                first = letters[0]
                await kafka_admin.bounded(
                    producer.send_and_wait(origin[0], first.value, key=first.key, headers=first.replay_headers())
                )
                now = datetime.now(UTC)
                for letter in letters:
                    value, headers = marker(letter, origin, now=now)
                    await kafka_admin.bounded(
                        producer.send_and_wait(letter.topic, value, partition=letter.partition, headers=headers)
                    )
                sent += 1
                bar.advance(task)
    return sent


def _report(name: str, plan: Plan, sent: int, *, dry_run: bool) -> None:
    table = Table(title=f"Replay of {name}" + (" (dry run: nothing sent)" if dry_run else ""))
    for column in ("Letter", "Reason", "Original record", "Outcome"):
        table.add_column(column)
    for origin, letters in plan.send.items():
        outcome = "would be sent" if dry_run else "sent"
        for i, letter in enumerate(letters):
            table.add_row(
                letter.where, letter.reason, origin_text(origin), outcome if i == 0 else "sent with the above"
            )
    for letter in plan.already:
        assert letter.origin is not None
        table.add_row(letter.where, letter.reason, origin_text(letter.origin), "[dim]replayed before: not sent[/]")
    for letter, why in plan.refused:
        table.add_row(letter.where, letter.reason, "", f"[yellow]not replayable: {why}[/]")
    console.print(table)
    count = sum(len(x) for x in plan.send.values())
    console.print(
        f"{sent} record(s) sent back for {count if sent else 0} letter(s); "
        f"{len(plan.already)} replayed before; {len(plan.refused)} not replayable."
    )


@app.command()
@guarded
def purge(
    topic: TopicArg,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask (required without a terminal)")] = False,
) -> None:
    """Delete every dead letter (and replay marker) of a DLQ topic, up to its end now.

    Kafka cannot delete single records: this deletes each partition's records up to its end
    offset (the AdminClient's delete_records); letters written afterwards stay. Asks first,
    unless --yes; without a terminal and without --yes it refuses.

    Example: snapfix dlq purge media.commands.v1.dlq --yes
    """
    name = dlq_topic(topic)
    settings = kafka_admin.settings()

    async def main() -> dict[TopicPartition, tuple[int, int]]:
        async with kafka_admin.consumer(settings) as client:
            partitions = await kafka_admin.partitions_of(client, name)
            if not partitions:
                fail(f"the topic {name} does not exist on this cluster.")
            limits = await kafka_admin.bounds(client, partitions)
        count = limits.count()
        if count == 0:
            return {}
        confirm(f"Delete the {count} record(s) of {name} (every partition, up to its end now)?", yes=yes)
        from aiokafka.admin.records_to_delete import RecordsToDelete

        records_to_delete: Any = RecordsToDelete  # untyped
        doomed = {tp: records_to_delete(before_offset=end) for tp, end in limits.end.items() if end > limits.begin[tp]}
        async with kafka_admin.admin_client(settings) as admin:
            await kafka_admin.bounded(admin.delete_records(doomed, timeout_ms=int(kafka_admin.CALL_TIMEOUT_S * 1000)))
        return {tp: (limits.begin[tp], limits.end[tp]) for tp in doomed}

    deleted = run(main())
    if not deleted:
        console.print(f"{name} holds no record: nothing to purge.")
        return
    table = Table(title=f"Purged {name}")
    for column in ("Partition", "Deleted", "Now begins at"):
        table.add_column(column, justify="right")
    for tp, (begin, end) in sorted(deleted.items()):
        table.add_row(str(tp.partition), str(end - begin), str(end))
    console.print(table)
