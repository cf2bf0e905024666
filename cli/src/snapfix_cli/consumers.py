"""``snapfix consumers``: the consumer groups of SnapFix: their lag, and resetting their offsets.

The groups are those the services consume with (their settings' defaults and their modules'
constants, the same names ``tests/integration/test_kafka_poison.py`` checks); another group is
named with ``--group``. Lag is read from the brokers (committed offsets against the partitions'
ends), so it covers a group with no live member too.

Offsets are only reset with explicit confirmation and when the group has no active member: the
group is described first, and the reset is refused while any consumer is in it (a running
consumer would overwrite the reset with its next commit). The new offsets are committed as a
member-less client, which the broker also refuses for a group that has members.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import typer
from aiokafka import TopicPartition
from aiokafka.structs import OffsetAndMetadata
from rich.table import Table

from snapfix_cli import kafka_admin
from snapfix_cli.support import CliError, confirm, console, fail, guarded, run
from snapfix_shared.topics import Topic

app = typer.Typer(
    help="Consumer groups: lag per partition, and resetting a stopped group's offsets.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

# States in which a group has no member (Kafka's names).
STOPPED_STATES = frozenset({"Empty", "Dead"})


def known_groups() -> dict[str, tuple[str, ...]]:
    """Every consumer group of SnapFix and the topics it reads (as the services name them by default)."""
    from snapfix_analytics.config import AnalyticsSettings
    from snapfix_gateway import live
    from snapfix_issues import consumers as issues_consumers
    from snapfix_issues.config import IssuesSettings
    from snapfix_media import purge
    from snapfix_media.config import MediaSettings
    from snapfix_notify.config import NotifySettings

    def default(settings: type[Any], name: str) -> str:
        return str(settings.model_fields[name].default)

    events = (Topic.ISSUES_EVENTS.value,)
    return {
        default(IssuesSettings, "consumer_group"): (Topic.ISSUES_COMMANDS.value,),
        issues_consumers.MEDIA_EVENTS_GROUP: (Topic.MEDIA_EVENTS.value,),
        default(MediaSettings, "consumer_group"): (Topic.MEDIA_COMMANDS.value,),
        purge.GROUP: (Topic.MEDIA_EVENTS.value,),
        default(NotifySettings, "notify_users_group"): (Topic.USERS_EVENTS.value,),
        default(NotifySettings, "notify_issues_group"): events,
        default(NotifySettings, "webhooks_group"): events,
        default(AnalyticsSettings, "consumer_group"): events,
        live.GROUP: events,
    }


# -- pure: the --to argument, lag rows -------------------------------------------------------

Target = (
    tuple[Literal["earliest", "latest"], None] | tuple[Literal["datetime"], datetime] | tuple[Literal["offset"], int]
)


def parse_target(text: str) -> Target:
    """``earliest``, ``latest``, an ISO 8601 date-time (UTC unless it says), or an offset (a whole number)."""
    value = text.strip()
    if value in {"earliest", "latest"}:
        return (value, None)  # type: ignore[return-value]
    if value.isdigit():
        return ("offset", int(value))
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--to {text!r}: give earliest, latest, a date-time (2026-12-01T08:00:00Z) or an offset (a whole number).")
    return ("datetime", moment if moment.tzinfo else moment.replace(tzinfo=UTC))


@dataclass(frozen=True)
class Row:
    group: str
    topic: str
    partition: int
    committed: int | None  # None: the group never committed on this partition
    begin: int
    end: int

    @property
    def lag(self) -> int:
        """Records not yet consumed: from the committed offset (or the retained start) to the end."""
        start = self.committed if self.committed is not None else self.begin
        return max(0, self.end - max(start, self.begin))


def lag_rows(group: str, limits: kafka_admin.Bounds, committed: dict[TopicPartition, int | None]) -> list[Row]:
    return [
        Row(group, tp.topic, tp.partition, committed.get(tp), limits.begin[tp], limits.end[tp])
        for tp in sorted(limits.end)
    ]


# -- the brokers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupState:
    state: str  # Empty, Stable, PreparingRebalance, CompletingRebalance, Dead
    members: int

    @property
    def stopped(self) -> bool:
        return self.state in STOPPED_STATES and self.members == 0


async def describe(admin: Any, group: str) -> GroupState:
    responses = await kafka_admin.bounded(admin.describe_consumer_groups([group]))
    for response in responses:
        for described in response.groups:
            error_code, group_id, state, members = described[0], described[1], described[2], described[5]
            if group_id == group:
                if error_code:
                    raise CliError(f"the group {group} could not be described (Kafka error code {error_code}).")
                return GroupState(str(state), len(members))
    return GroupState("Dead", 0)


async def committed_offsets(admin: Any, group: str) -> dict[TopicPartition, int | None]:
    found = await kafka_admin.bounded(admin.list_consumer_group_offsets(group))
    return {tp: (meta.offset if meta.offset >= 0 else None) for tp, meta in found.items()}


async def _partitions(client: Any, topics: Sequence[str]) -> list[TopicPartition]:
    partitions: list[TopicPartition] = []
    for topic in topics:
        partitions.extend(await kafka_admin.partitions_of(client, topic))
    return partitions


# -- commands ---------------------------------------------------------------------------------


@app.command()
@guarded
def lag(
    group: Annotated[
        list[str] | None, typer.Option("--group", "-g", help="Only this group (repeat for more; any group)")
    ] = None,
    nonzero: Annotated[bool, typer.Option("--nonzero", help="Only partitions that lag")] = False,
) -> None:
    """Show each consumer group's lag per partition: committed offset, end offset, lag (default: every SnapFix group).

    Example: snapfix consumers lag --group notify-issues
    """
    known = known_groups()
    groups = list(dict.fromkeys(group)) if group else list(known)
    settings = kafka_admin.settings()

    async def main() -> tuple[list[Row], dict[str, GroupState]]:
        rows: list[Row] = []
        states: dict[str, GroupState] = {}
        async with kafka_admin.admin_client(settings) as admin, kafka_admin.consumer(settings) as client:
            for name in groups:
                states[name] = await describe(admin, name)
                committed = await committed_offsets(admin, name)
                topics = sorted(set(known.get(name, ())) | {tp.topic for tp in committed})
                limits = await kafka_admin.bounds(client, await _partitions(client, topics))
                rows.extend(lag_rows(name, limits, committed))
        return rows, states

    rows, states = run(main())
    table = Table(title="Consumer lag")
    for column in ("Group", "State", "Members", "Topic", "Partition", "Committed", "End", "Lag"):
        table.add_column(
            column, justify="right" if column in {"Members", "Partition", "Committed", "End", "Lag"} else "left"
        )
    for name in groups:
        mine = [r for r in rows if r.group == name]
        state = states[name]
        if not mine:
            table.add_row(
                name, state.state, str(state.members), "[dim]no committed offset, no known topic[/]", "", "", "", ""
            )
            continue
        for row in mine:
            if nonzero and not row.lag:
                continue
            table.add_row(
                name,
                state.state,
                str(state.members),
                row.topic,
                str(row.partition),
                "-" if row.committed is None else str(row.committed),
                str(row.end),
                str(row.lag),
            )
        table.add_row(
            name, "", "", "[bold]total[/]", "", "", "", f"[bold]{sum(r.lag for r in mine)}[/]", end_section=True
        )
    console.print(table)


@app.command("reset-offsets")
@guarded
def reset_offsets(
    group: Annotated[str, typer.Argument(help="The consumer group (it must have no active member)")],
    to: Annotated[
        str,
        typer.Option(
            "--to", help="earliest, latest, a date-time (ISO 8601, UTC unless it says) or an offset (every partition)"
        ),
    ],
    topic: Annotated[
        str | None, typer.Option(help="Only this topic (default: the topics the group reads or committed on)")
    ] = None,
    partition: Annotated[int | None, typer.Option(help="Only this partition (with --topic)", min=0)] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask (required without a terminal)")] = False,
) -> None:
    """Move a stopped group's committed offsets: its consumers read from there when they start again.

    Refused while the group has an active member (stop its consumers first). Shows the offsets
    before and after, then asks (or --yes). Every handler is idempotent, so reading records again
    is safe; skipping them (latest) loses their effects.

    Example: snapfix consumers reset-offsets notify-issues --to 2026-12-01T08:00:00Z
    """
    target = parse_target(to)
    if partition is not None and topic is None:
        fail("--partition needs --topic.")
    settings = kafka_admin.settings()
    known = known_groups()

    async def main() -> dict[TopicPartition, tuple[int | None, int]]:
        async with kafka_admin.admin_client(settings) as admin, kafka_admin.consumer(settings) as client:
            state = await describe(admin, group)
            if not state.stopped:
                fail(_active(group, state))
            committed = await committed_offsets(admin, group)
            topics = [topic] if topic else sorted(set(known.get(group, ())) | {tp.topic for tp in committed})
            if not topics:
                fail(f"the group {group} is not one of SnapFix's and has committed nothing: name the topic (--topic).")
            existing = set(await kafka_admin.topics(client))
            if missing := [t for t in topics if t not in existing]:
                fail(f"no topic {', '.join(missing)} on this cluster.")
            partitions = await _partitions(client, topics)
            if partition is not None:
                partitions = [tp for tp in partitions if tp.partition == partition]
                if not partitions:
                    fail(f"{topic} has no partition {partition}.")
            limits = await kafka_admin.bounds(client, partitions)
            new = await _targets(client, limits, target)
            plan = {tp: (committed.get(tp), offset) for tp, offset in new.items()}
            _show_plan(group, plan)
            confirm(f"Commit these offsets for the group {group}?", yes=yes)
            again = await describe(admin, group)  # a consumer that started meanwhile wins
            if not again.stopped:
                fail(_active(group, again))
        async with kafka_admin.consumer(settings, group_id=group) as member_less:
            member_less.assign(sorted(new))
            await kafka_admin.bounded(
                member_less.commit({tp: OffsetAndMetadata(offset, "snapfix-cli reset") for tp, offset in new.items()})
            )
        return plan

    plan = run(main())
    console.print(f"Committed {len(plan)} offset(s) for {group}; its consumers start there.")


def _active(group: str, state: GroupState) -> str:
    return (
        f"the group {group} has {state.members} active member(s) (state {state.state}): stop its consumers "
        "first, then reset (a running consumer would overwrite the reset with its next commit)."
    )


async def _targets(client: Any, limits: kafka_admin.Bounds, target: Target) -> dict[TopicPartition, int]:
    kind, value = target
    if kind == "earliest":
        return dict(limits.begin)
    if kind == "latest":
        return dict(limits.end)
    if kind == "offset":
        assert isinstance(value, int)
        outside = [
            f"{tp.topic}[{tp.partition}] holds {limits.begin[tp]}..{limits.end[tp]}"
            for tp in limits.end
            if not limits.begin[tp] <= value <= limits.end[tp]
        ]
        if outside:
            fail(f"offset {value} is outside what is retained: {'; '.join(outside)}.")
        return dict.fromkeys(limits.end, value)
    assert isinstance(value, datetime)
    found = await kafka_admin.bounded(
        client.offsets_for_times(dict.fromkeys(limits.end, int(value.timestamp() * 1000)))
    )
    # No record at or after that moment: the partition's end (nothing to read again).
    return {tp: (found[tp].offset if found.get(tp) is not None else limits.end[tp]) for tp in limits.end}


def _show_plan(group: str, plan: dict[TopicPartition, tuple[int | None, int]]) -> None:
    table = Table(title=f"Reset of {group}")
    for column in ("Topic", "Partition", "Committed now", "New offset"):
        table.add_column(column, justify="left" if column == "Topic" else "right")
    for tp, (now, new) in sorted(plan.items()):
        table.add_row(tp.topic, str(tp.partition), "-" if now is None else str(now), str(new))
    console.print(table)
