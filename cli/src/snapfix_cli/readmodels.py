"""``snapfix readmodels``: rebuild a service's projections from its store of record or its input topic.

Each rebuild runs the owning service's own code, in this process, while that service's
consumers are stopped (the command refuses while the consumer group has members: a consumer
writing at the same time could leave a row older than the store):

- issues: its Redis read model (lists, geo sets, queues, cached issues), dropped and rebuilt
  whole from its Mongo store (``snapfix_issues.rebuild``, the path it takes when Redis is empty);
- notify: its projections (contacts, its view of each issue) replayed from ``users.events.v1``
  and ``issues.events.v1`` as far back as the topics keep; nothing is sent, no delivery recorded;
- analytics: its database emptied, its consumer group set back to the start of
  ``issues.events.v1``, and its own consumer run here until it has caught up with the topic.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from enum import StrEnum
from typing import Annotated, Any

import typer
from aiokafka import ConsumerRecord
from pydantic import TypeAdapter, ValidationError

from snapfix_cli import kafka_admin
from snapfix_cli.consumers import committed_offsets, describe
from snapfix_cli.support import CliError, console, guarded, progress, run
from snapfix_shared.messages import (
    ISSUE_EVENTS,
    USER_EVENTS,
    EmailVerificationRequested,
    PasswordResetRequested,
    RegistrationAttempted,
    UserDeleted,
    UserEmailVerified,
    UserRegistered,
    UserUpdated,
)
from snapfix_shared.mongo import init_documents, mongo_client
from snapfix_shared.redis_client import redis_client
from snapfix_shared.settings import KafkaSettings
from snapfix_shared.topics import Topic

app = typer.Typer(help="Read models and projections: rebuild them from the store or the topic.", no_args_is_help=True)
POLL_S = 0.5
STALLED_S = 300.0  # the analytics consumer committing nothing for this long: something is wrong


class Service(StrEnum):
    issues = "issues"
    notify = "notify"
    analytics = "analytics"


# -- Kafka: who is consuming, what the topic holds -----------------------------------------------


async def refuse_while_consuming(settings: KafkaSettings, service: str, groups: Sequence[str]) -> None:
    """Fail (nothing done) while any of the service's consumer groups has a member."""
    async with kafka_admin.admin_client(settings) as admin:
        for group in groups:
            state = await describe(admin, group)
            if state.members:
                raise CliError(
                    f"the consumer group {group!r} has {state.members} active member(s): stop every {service} "
                    "instance first (a rebuild and a running consumer would overwrite each other); nothing was done."
                )


async def replay(
    settings: KafkaSettings, topic: str, apply: Callable[[ConsumerRecord[Any, Any]], Awaitable[None]], label: str
) -> int:
    """Every record ``topic`` keeps, up to its end when the replay starts, through ``apply`` (in each
    partition's order), read without a consumer group: nothing is committed. How many were read."""
    read = 0
    async with kafka_admin.consumer(settings) as client:
        limits = await kafka_admin.bounds(client, await kafka_admin.partitions_of(client, topic))
        with progress() as bar:
            task = bar.add_task(label, total=limits.count())
            async for record in kafka_admin.read_range(client, limits):
                await apply(record)
                read += 1
                bar.advance(task)
    return read


# -- issues: the Redis read model, rebuilt from Mongo --------------------------------------------


async def rebuild_issues() -> str:
    from snapfix_issues.cache import IssueCache
    from snapfix_issues.config import IssuesSettings
    from snapfix_issues.models import Comment, Follow, Report
    from snapfix_issues.readmodel import ReadModel
    from snapfix_issues.repository import ReportRepository
    from snapfix_issues.service.rebuild import ReadModelKeeper

    settings = IssuesSettings()
    # Both groups write the read model: the commands, and the erasure of deleted accounts.
    await refuse_while_consuming(settings, "issues", [settings.consumer_group, settings.issues_users_group])
    client = mongo_client(settings, app_name="snapfix-cli")
    redis = redis_client(settings, socket_timeout=30.0)
    try:
        await init_documents(client, settings.mongo_database, [Report, Comment, Follow])
        total = await Report.get_pymongo_collection().count_documents({})
        readmodel = ReadModel(redis)
        keeper = ReadModelKeeper(readmodel, IssueCache(redis, settings.cache_ttl_s), ReportRepository(), check_s=60)
        with progress() as bar:
            task = bar.add_task("issues read model", total=total)
            count = await keeper.rebuild(force=True, progress=lambda n: bar.update(task, completed=n))
        if count is None:
            raise CliError("another process is rebuilding the issues read model right now")
        return f"issues read model rebuilt: {count} report(s)"
    finally:
        await redis.aclose()
        await client.close()


# -- notify: contacts and issue views, replayed from the topics ---------------------------------


class NotifyProjection:
    """What notify's consumers write to its projections, and nothing else: no delivery is planned,
    recorded or sent. A deleted account stays a tombstone: none of its older events, replayed, brings
    its address, its reports or its follows back."""

    def __init__(self, contacts: Any, issues: Any) -> None:
        self.contacts, self.issues = contacts, issues  # snapfix_notify.repository.Contacts, Issues

    async def erased(self, user_id: str | None) -> bool:
        return user_id is not None and bool(await self.contacts.deleted(user_id))

    async def user_event(self, record: ConsumerRecord[Any, Any]) -> None:
        from snapfix_notify.repository import state_stamp

        event = _parsed(USER_EVENTS, record)
        if event is None:
            return
        user_id = str(event.user_id)
        if isinstance(event, UserDeleted):
            await self.contacts.forget(user_id)
            return
        if await self.erased(user_id):
            return
        stamp = state_stamp(event.occurred_at, event.message_id)
        match event:
            case UserRegistered():
                state = {"role": event.role, "departments": list(event.departments), "disabled": False}
                always = {"email": event.email, "display_name": event.display_name}
                await self.contacts.set_state(user_id, stamp, state, always=always)
            case UserUpdated():
                state = {"role": event.role, "departments": list(event.departments), "disabled": event.disabled}
                await self.contacts.set_state(user_id, stamp, state)
            case EmailVerificationRequested() | PasswordResetRequested() | RegistrationAttempted():
                await self.contacts.fill(user_id, {"email": event.email, "display_name": event.display_name})
            case UserEmailVerified():
                await self.contacts.upsert(user_id, {"email_verified": True})

    async def issue_event(self, record: ConsumerRecord[Any, Any]) -> None:
        from snapfix_notify.projection import project_issue_event

        event = _parsed(ISSUE_EVENTS, record)
        if event is not None:
            await project_issue_event(self.issues, event, erased=self.erased)


async def rebuild_notify() -> str:
    from snapfix_notify.cache import ContactCache
    from snapfix_notify.config import NotifySettings
    from snapfix_notify.models import DOCUMENTS
    from snapfix_notify.repository import Contacts, Issues

    settings = NotifySettings()
    await refuse_while_consuming(settings, "notify", [settings.notify_users_group, settings.notify_issues_group])
    client = mongo_client(settings, app_name="snapfix-cli")
    redis = redis_client(settings)
    try:
        await init_documents(client, settings.mongo_database, DOCUMENTS)
        projection = NotifyProjection(Contacts(ContactCache(redis, f"notify:{settings.mongo_database}:")), Issues())
        users = await replay(settings, Topic.USERS_EVENTS, projection.user_event, "contacts (users.events.v1)")
        reports = await replay(settings, Topic.ISSUES_EVENTS, projection.issue_event, "issue views (issues.events.v1)")
        return f"notify projections rebuilt: {users} user event(s), {reports} issue event(s) replayed"
    finally:
        await redis.aclose()
        await client.close()


def _parsed(adapter: TypeAdapter[Any], record: ConsumerRecord[Any, Any]) -> Any:
    """The record's event; None for anything else (poison was dead-lettered by the service already)."""
    if not record.value:
        return None
    try:
        return adapter.validate_json(record.value)
    except ValidationError:
        return None


# -- analytics: windows recomputed by its own consumer from issues.events.v1 ---------------------


async def rebuild_analytics(allow_partial: bool) -> str:
    from snapfix_analytics.app import create_app
    from snapfix_analytics.config import AnalyticsSettings
    from snapfix_analytics.models import DOCUMENTS

    settings = AnalyticsSettings(log_level="WARNING")
    group = settings.consumer_group
    await refuse_while_consuming(settings, "analytics", [group])
    topic = Topic.ISSUES_EVENTS
    async with kafka_admin.consumer(settings, group_id=group) as client:
        partitions = await kafka_admin.partitions_of(client, topic)
        limits = await kafka_admin.bounds(client, partitions)
        trimmed = sorted(tp.partition for tp in partitions if limits.begin[tp] > 0)
        if trimmed and not allow_partial:
            raise CliError(
                f"{topic} no longer holds its oldest events (retention trimmed partitions {trimmed}): windows "
                "older than what it keeps would be lost. Pass --allow-partial to rebuild from what it keeps."
            )
        mongo = mongo_client(settings, app_name="snapfix-cli")
        try:
            for document in DOCUMENTS:  # every one is derived from the topic
                await mongo[settings.mongo_database][document.Settings.name].delete_many({})
        finally:
            await mongo.close()
        # The group back to the start: the service's own consumer (below, or the service later) reads it all.
        client.assign(partitions)
        await kafka_admin.bounded(client.commit(dict(limits.begin.items())))

    total = limits.count()
    loop = asyncio.get_running_loop()
    service = create_app(settings)
    async with kafka_admin.admin_client(settings) as admin, service.router.lifespan_context(service):
        with progress() as bar:
            task = bar.add_task("analytics windows (issues.events.v1)", total=total)
            done, moved_at = -1, loop.time()
            while True:
                committed = await committed_offsets(admin, group)
                now_done = sum(
                    max(0, min(limits.end[tp], committed.get(tp) or limits.begin[tp]) - limits.begin[tp])
                    for tp in partitions
                )
                if now_done != done:
                    done, moved_at = now_done, loop.time()
                bar.update(task, completed=done)
                if done >= total:
                    break
                if loop.time() - moved_at > STALLED_S:
                    raise CliError(
                        f"the analytics consumer committed nothing for {STALLED_S:.0f} s ({done} of {total} events "
                        "counted): see its log above. Run the command again to start over."
                    )
                await asyncio.sleep(POLL_S)
    return f"analytics windows rebuilt from {total} event(s) of {topic}"


# -- the command ---------------------------------------------------------------------------------


@app.command()
@guarded
def rebuild(
    service: Annotated[Service, typer.Argument(help="issues, notify or analytics")],
    allow_partial: Annotated[
        bool,
        typer.Option("--allow-partial", help="analytics: rebuild from what the topic keeps, if it lost its oldest"),
    ] = False,
) -> None:
    """Rebuild a service's read model or projections. [bold]Stop that service first[/bold].

    issues: its Redis read model, dropped and rebuilt whole from its Mongo store.
    notify: its contacts and issue views, replayed from users.events.v1 and issues.events.v1
    (no notification is sent again). analytics: its windows recomputed by its own consumer
    from issues.events.v1 (its database is emptied first; with --allow-partial only what the
    topic still keeps is counted). The command refuses while the service's consumer group
    has active members, since a consumer writing meanwhile could leave stale rows; start
    the service again afterwards.

    Example: snapfix readmodels rebuild issues
    """
    if allow_partial and service is not Service.analytics:
        raise typer.BadParameter("--allow-partial applies to analytics only")
    work: Coroutine[Any, Any, str]
    if service is Service.issues:
        work = rebuild_issues()
    elif service is Service.notify:
        work = rebuild_notify()
    else:
        work = rebuild_analytics(allow_partial)
    console.print(run(work))
