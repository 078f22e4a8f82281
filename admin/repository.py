"""The console's reads: read-only SQL over the loyalty tables and the pipeline's Redis
figures. Every write goes through `loyalty.handlers`, never through here."""

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy import String, Table, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.config import get_settings
from core.streams import AUTH_USERS, LOYALTY_EVENTS
from loyalty.audience.repository import codes_assigned_to
from loyalty.domain.enums import PurchaseStatus
from loyalty.models import GroupMember, Tariff, UserGroup, outbox
from loyalty.read import postgres as read

# The read side's tables (read.codes_t, ...) and these three, which it does not define.
groups_t = UserGroup.__table__
members_t = GroupMember.__table__
tariffs_t = Tariff.__table__

STREAMS = (LOYALTY_EVENTS, AUTH_USERS)
TAKEN = (PurchaseStatus.pending, PurchaseStatus.paid)  # a purchase holding a use of its code
Row = dict[str, Any]


@asynccontextmanager
async def connection() -> AsyncIterator[AsyncConnection]:
    """A read-only transaction on the loyalty database, every query seeing the same moment."""
    engine = read.read_only_engine(get_settings().loyalty_database_url)
    async with read.read_only(engine, snapshot=True) as conn:
        yield conn


def _rows(result) -> list[Row]:
    return [dict(r._mapping) for r in result]


async def _by_id(conn: AsyncConnection, table: Table, key: Any) -> Row | None:
    row = (await conn.execute(select(table).where(table.c.id == key))).first()
    return dict(row._mapping) if row else None


def start_of_today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


# -- pickers ------------------------------------------------------------------------------


async def tariff_choices(conn: AsyncConnection) -> list[Row]:
    return _rows(await conn.execute(select(tariffs_t).order_by(tariffs_t.c.name)))


async def group_choices(conn: AsyncConnection) -> list[Row]:
    return _rows(await conn.execute(select(groups_t).order_by(groups_t.c.name)))


async def code_choices(conn: AsyncConnection, limit: int = 500) -> list[Row]:
    """Codes an operator picks by name: hand-made ones (generated batches have their own
    page), newest first."""
    rows = await conn.execute(
        select(
            read.codes_t.c.id,
            read.codes_t.c.code,
            read.codes_t.c.is_active,
            read.codes_t.c.audience,
        )
        .where(read.codes_t.c.batch_id.is_(None))
        .order_by(read.codes_t.c.id.desc())
        .limit(limit)
    )
    return _rows(rows)


async def code_id_by_text(conn: AsyncConnection, text: str) -> int | None:
    return await conn.scalar(
        select(read.codes_t.c.id).where(read.codes_t.c.code == text.strip().upper())
    )


# -- users --------------------------------------------------------------------------------


async def find_users(
    conn: AsyncConnection,
    *,
    id_part: str | None = None,
    ids: list[uuid.UUID] | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[Row]:
    """Users of the replica, newest first: by (part of) their id, among `ids`, by status."""
    statement = select(read.users_t).order_by(read.users_t.c.registered_at.desc()).limit(limit)
    if id_part:
        statement = statement.where(cast(read.users_t.c.id, String).contains(id_part.lower()))
    if ids is not None:
        statement = statement.where(read.users_t.c.id.in_(ids))
    if status:
        statement = statement.where(read.users_t.c.status == status)
    return _rows(await conn.execute(statement))


async def user(conn: AsyncConnection, user_id: uuid.UUID) -> Row | None:
    return await _by_id(conn, read.users_t, user_id)


async def groups_of(conn: AsyncConnection, user_id: uuid.UUID) -> list[Row]:
    rows = await conn.execute(
        select(groups_t, members_t.c.added_at)
        .join(members_t, members_t.c.group_id == groups_t.c.id)
        .where(members_t.c.user_id == user_id)
        .order_by(groups_t.c.name)
    )
    return _rows(rows)


async def codes_of(conn: AsyncConnection, user_id: uuid.UUID) -> list[Row]:
    """Codes assigned to the user, directly or through a group, with the user's uses."""
    uu = read.user_uses_t
    rows = await conn.execute(
        select(read.codes_t, func.coalesce(uu.c.uses, 0).label("user_uses"))
        .outerjoin(uu, (uu.c.promocode_id == read.codes_t.c.id) & (uu.c.user_id == user_id))
        .where(read.codes_t.c.id.in_(codes_assigned_to(user_id)))
        .order_by(read.codes_t.c.id.desc())
    )
    return _rows(rows)


async def purchases(
    conn: AsyncConnection,
    *,
    user_id: uuid.UUID | None = None,
    promocode_id: int | None = None,
    limit: int = 100,
) -> list[Row]:
    statement = (
        select(read.purchases_t, tariffs_t.c.name.label("tariff_name"))
        .join(tariffs_t, tariffs_t.c.id == read.purchases_t.c.tariff_id)
        .order_by(read.purchases_t.c.created_at.desc())
        .limit(limit)
    )
    if user_id is not None:
        statement = statement.where(read.purchases_t.c.user_id == user_id)
    if promocode_id is not None:
        statement = statement.where(read.purchases_t.c.promocode_id == promocode_id)
    return _rows(await conn.execute(statement))


# -- groups -------------------------------------------------------------------------------


async def group(conn: AsyncConnection, group_id: int) -> Row | None:
    return await _by_id(conn, groups_t, group_id)


async def members(conn: AsyncConnection, group_id: int, limit: int = 500) -> list[Row]:
    rows = await conn.execute(
        select(members_t.c.user_id, members_t.c.added_at, read.users_t.c.status)
        .join(read.users_t, read.users_t.c.id == members_t.c.user_id)
        .where(members_t.c.group_id == group_id)
        .order_by(members_t.c.added_at.desc())
        .limit(limit)
    )
    return _rows(rows)


async def member_count(conn: AsyncConnection, group_id: int) -> int:
    return await conn.scalar(
        select(func.count()).select_from(members_t).where(members_t.c.group_id == group_id)
    )


# -- codes --------------------------------------------------------------------------------


async def code(conn: AsyncConnection, promocode_id: int) -> Row | None:
    return await _by_id(conn, read.codes_t, promocode_id)


async def tariff_names(conn: AsyncConnection) -> dict[int, str]:
    return {r.id: r.name for r in await conn.execute(select(tariffs_t.c.id, tariffs_t.c.name))}


@dataclass
class ListedNames:
    """The names behind the ids of one page of a list: a group's, a tariff's, a code's."""

    groups: dict[int, str] = field(default_factory=dict)
    tariffs: dict[int, str] = field(default_factory=dict)
    codes: dict[int, str] = field(default_factory=dict)


async def names_of(
    conn: AsyncConnection, groups: set[int], tariffs: set[int], codes: set[int]
) -> ListedNames:
    async def named(column_id, column_name, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = await conn.execute(select(column_id, column_name).where(column_id.in_(ids)))
        return {key: name for key, name in rows}

    return ListedNames(
        groups=await named(groups_t.c.id, groups_t.c.name, groups),
        tariffs=await named(tariffs_t.c.id, tariffs_t.c.name, tariffs),
        codes=await named(read.codes_t.c.id, read.codes_t.c.code, codes),
    )


async def assignments(conn: AsyncConnection, promocode_id: int) -> list[Row]:
    rows = await conn.execute(
        select(read.assignments_t, groups_t.c.name.label("group_name"))
        .outerjoin(groups_t, groups_t.c.id == read.assignments_t.c.group_id)
        .where(read.assignments_t.c.promocode_id == promocode_id)
        .order_by(read.assignments_t.c.created_at.desc())
    )
    return _rows(rows)


def _attempts_of_code(promocode_id: int, code_text: str):
    """A code's failed attempts: matched to it, or typed as its text."""
    return or_(read.attempts_t.c.promocode_id == promocode_id, read.attempts_t.c.code == code_text)


async def failures_by_reason(
    conn: AsyncConnection,
    *,
    promocode_id: int | None = None,
    code_text: str = "",
    since: datetime | None = None,
) -> list[Row]:
    """(reason, count), most frequent first."""
    t = read.attempts_t
    statement = select(t.c.reason, func.count().label("count")).group_by(t.c.reason)
    if promocode_id is not None:
        statement = statement.where(_attempts_of_code(promocode_id, code_text))
    if since is not None:
        statement = statement.where(t.c.created_at >= since)
    rows = await conn.execute(statement.order_by(func.count().desc(), t.c.reason))
    return _rows(rows)


@dataclass
class Day:
    day: date
    uses: int = 0
    failures: int = 0


async def per_day(
    conn: AsyncConnection, promocode_id: int, code_text: str, days: int = 30
) -> list[Day]:
    """Uses (purchases holding a use) and failed attempts of a code per day (UTC), the last
    `days` days, oldest first, days without either included."""
    since = start_of_today() - timedelta(days=days - 1)
    result = {
        since.date() + timedelta(days=i): Day(since.date() + timedelta(days=i)) for i in range(days)
    }
    p_day = func.date(func.timezone("UTC", read.purchases_t.c.created_at))
    for r in await conn.execute(
        select(p_day.label("d"), func.count().label("n"))
        .where(read.purchases_t.c.promocode_id == promocode_id)
        .where(read.purchases_t.c.status.in_(TAKEN))
        .where(read.purchases_t.c.created_at >= since)
        .group_by(p_day)
    ):
        result[r.d].uses = r.n
    a_day = func.date(func.timezone("UTC", read.attempts_t.c.created_at))
    for r in await conn.execute(
        select(a_day.label("d"), func.count().label("n"))
        .where(_attempts_of_code(promocode_id, code_text))
        .where(read.attempts_t.c.created_at >= since)
        .group_by(a_day)
    ):
        result[r.d].failures = r.n
    return list(result.values())


# -- generated batches -------------------------------------------------------------------


async def batch(conn: AsyncConnection, batch_id: uuid.UUID) -> Row | None:
    return await _by_id(conn, read.batches_t, batch_id)


@dataclass
class BatchUsage:
    codes: int
    used: int  # codes used at least once
    uses: int  # uses of all its codes together

    @property
    def unused(self) -> int:
        return self.codes - self.used


async def batch_usage(conn: AsyncConnection, batch_id: uuid.UUID) -> BatchUsage:
    row = (
        await conn.execute(
            select(
                func.count(),
                func.count().filter(read.codes_t.c.uses > 0),
                func.coalesce(func.sum(read.codes_t.c.uses), 0),
            ).where(read.codes_t.c.batch_id == batch_id)
        )
    ).one()
    return BatchUsage(*row)


async def batch_codes(
    conn: AsyncConnection, batch_id: uuid.UUID, *, offset: int, limit: int
) -> list[Row]:
    """A page of a batch's codes, the most used first."""
    rows = await conn.execute(
        select(read.codes_t)
        .where(read.codes_t.c.batch_id == batch_id)
        .order_by(read.codes_t.c.uses.desc(), read.codes_t.c.id)
        .offset(offset)
        .limit(limit)
    )
    return _rows(rows)


# -- dashboard ----------------------------------------------------------------------------


@dataclass
class Today:
    uses: int
    failures: int
    top_codes: list[Row]
    failures_by_reason: list[Row]


async def today(conn: AsyncConnection, top: int = 10) -> Today:
    since = start_of_today()
    taken_today = (read.purchases_t.c.created_at >= since) & read.purchases_t.c.status.in_(TAKEN)
    uses = await conn.scalar(
        select(func.count())
        .select_from(read.purchases_t)
        .where(taken_today & read.purchases_t.c.promocode_id.is_not(None))
    )
    failures = await conn.scalar(
        select(func.count())
        .select_from(read.attempts_t)
        .where(read.attempts_t.c.created_at >= since)
    )
    top_codes = _rows(
        await conn.execute(
            select(read.codes_t.c.id, read.codes_t.c.code, func.count().label("uses"))
            .join(read.purchases_t, read.purchases_t.c.promocode_id == read.codes_t.c.id)
            .where(taken_today)
            .group_by(read.codes_t.c.id, read.codes_t.c.code)
            .order_by(func.count().desc(), read.codes_t.c.code)
            .limit(top)
        )
    )
    return Today(uses, failures, top_codes, await failures_by_reason(conn, since=since))


# -- pipeline -----------------------------------------------------------------------------


@dataclass
class Backlog:
    unpublished: int
    oldest: datetime | None


async def outbox_backlog(conn: AsyncConnection) -> Backlog:
    row = (
        await conn.execute(
            select(func.count(), func.min(outbox.c.occurred_at)).where(
                outbox.c.published_at.is_(None)
            )
        )
    ).one()
    return Backlog(row[0], row[1])


@dataclass
class StreamHealth:
    name: str
    length: int
    dead_letters: int
    groups: list[Row] = field(default_factory=list)


async def streams(redis: Redis) -> list[StreamHealth]:
    """Each stream's length, its consumer groups (consumers, pending, lag) and its dead
    letters."""
    found = []
    for name in STREAMS:
        length = await redis.xlen(name)
        try:
            groups = await redis.xinfo_groups(name)
        except ResponseError:  # the stream does not exist yet
            groups = []
        found.append(
            StreamHealth(
                name,
                length,
                await redis.xlen(f"{name}.dlq"),
                [{k.replace("-", "_"): v for k, v in g.items()} for g in groups],
            )
        )
    return found


@dataclass
class DeadLetter:
    stream: str
    entry_id: str
    fields: dict[str, str]

    @property
    def payload(self) -> str:
        try:
            return json.dumps(json.loads(self.fields.get("payload", "")), ensure_ascii=False)
        except ValueError:
            return self.fields.get("payload", "")


async def dead_letters(redis: Redis, limit: int = 50) -> list[DeadLetter]:
    letters = []
    for name in STREAMS:
        for entry_id, fields in await redis.xrevrange(f"{name}.dlq", count=limit):
            letters.append(DeadLetter(name, entry_id, fields))
    return letters


async def dead_letter(redis: Redis, stream: str, entry_id: str) -> DeadLetter | None:
    if stream not in STREAMS:
        return None
    entries = await redis.xrange(f"{stream}.dlq", min=entry_id, max=entry_id)
    return DeadLetter(stream, *entries[0]) if entries else None
