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

The letters, the replay plan and reading a DLQ, without the command line, are in ``dlq_letters``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from aiokafka import ConsumerRecord, TopicPartition
from rich.table import Table

from snapfix_cli import kafka_admin
from snapfix_cli.dlq_letters import (
    DLQ_TOPICS,
    Letter,
    Plan,
    dlq_topic,
    marker,
    marker_origin,
    origin_text,
    plan_replay,
    position,
    read_dlq,
    readable_body,
    summarise,
)
from snapfix_cli.support import confirm, console, fail, guarded, progress, run

if TYPE_CHECKING:
    from snapfix_shared.settings import KafkaSettings

app = typer.Typer(
    help="Dead letters: records a consumer could not use, kept in <topic>.dlq. List, show, replay, purge.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


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
