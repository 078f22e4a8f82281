"""Read-only SQL of the read side: rebuild, batch codes, CSV export, attempts log, fallbacks.

Every query runs on a read-only engine (`core.db.get_engine(..., read_only=True)`), so
nothing on the read side can write to Postgres.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.db import get_engine
from loyalty.audience.repository import codes_assigned_to
from loyalty.domain import events
from loyalty.domain.enums import Audience
from loyalty.models import (
    GroupMember,
    Promocode,
    PromocodeAssignment,
    PromocodeAttempt,
    PromocodeBatch,
    PromocodeUserUses,
    Purchase,
    Tariff,
    User,
    UserGroup,
)
from loyalty.read.active import Candidate, CodeView

codes_t = Promocode.__table__
batches_t = PromocodeBatch.__table__
assignments_t = PromocodeAssignment.__table__
members_t = GroupMember.__table__
groups_t = UserGroup.__table__
user_uses_t = PromocodeUserUses.__table__
purchases_t = Purchase.__table__
attempts_t = PromocodeAttempt.__table__
tariffs_t = Tariff.__table__
users_t = User.__table__

CHUNK = 1000
# The columns of a batch's CSV download, in order.
BATCH_CSV_COLUMNS = (
    "code",
    "discount_type",
    "value",
    "valid_from",
    "valid_until",
    "max_uses",
    "per_user_limit",
    "uses",
    "is_active",
)


def read_only_engine(url: str, pool_size: int = 5) -> AsyncEngine:
    return get_engine(url, pool_size=pool_size, read_only=True)


def public_codes(codes=codes_t):
    """`rules.is_public` in SQL: the codes listed to every user (tested to agree)."""
    return and_(
        codes.c.audience == Audience.everyone,
        codes.c.batch_id.is_(None),
        codes.c.is_active,
    )


@asynccontextmanager
async def read_only(
    engine: AsyncEngine, *, snapshot: bool = False
) -> AsyncIterator[AsyncConnection]:
    """A read-only transaction; `snapshot` makes every query see the same moment."""
    async with engine.connect() as conn:
        if snapshot:
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            yield conn


def code_snapshot(row: Any) -> dict[str, Any]:
    """The same snapshot a `promocode.*` event carries, JSON-ready."""
    return to_jsonable_python(events.promocode_payload(row))


def purchase_snapshot(row: Any) -> dict[str, Any]:
    return to_jsonable_python(events.purchase_payload(row))


# -- projector ---------------------------------------------------------------------------


async def batch_code_chunks(
    conn: AsyncConnection, batch_id: uuid.UUID | str, chunk: int = CHUNK
) -> AsyncIterator[list[dict[str, Any]]]:
    result = await conn.stream(
        select(codes_t).where(codes_t.c.batch_id == batch_id).order_by(codes_t.c.id)
    )
    async for rows in result.partitions(chunk):
        yield [code_snapshot(r) for r in rows]


# -- query_api fallbacks while the read model is rebuilt --------------------------------


async def user_status(conn: AsyncConnection, user_id: uuid.UUID) -> str | None:
    return await conn.scalar(select(users_t.c.status).where(users_t.c.id == user_id))


async def active_candidates(conn: AsyncConnection, user_id: uuid.UUID) -> list[Candidate]:
    """Codes assigned to the user or their groups, and public ones, with their uses."""
    uu = user_uses_t
    rows = await conn.execute(
        select(codes_t, func.coalesce(uu.c.uses, 0).label("user_uses"))
        .outerjoin(uu, and_(uu.c.promocode_id == codes_t.c.id, uu.c.user_id == user_id))
        .where(or_(codes_t.c.id.in_(codes_assigned_to(user_id)), public_codes()))
    )
    return [Candidate(CodeView.of(code_snapshot(r)), r.uses, r.user_uses) for r in rows]


async def user_purchases(
    conn: AsyncConnection, user_id: uuid.UUID, limit: int, offset: int
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(purchases_t)
        .where(purchases_t.c.user_id == user_id)
        .order_by(purchases_t.c.created_at.desc(), purchases_t.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [
        {k: v for k, v in purchase_snapshot(r).items() if k not in events.PURCHASE_COUNTERS}
        for r in rows
    ]


# -- operators ---------------------------------------------------------------------------


async def batch_exists(conn: AsyncConnection, batch_id: uuid.UUID) -> bool:
    return await conn.scalar(select(batches_t.c.id).where(batches_t.c.id == batch_id)) is not None


async def batch_csv_rows(
    conn: AsyncConnection, batch_id: uuid.UUID, chunk: int = CHUNK
) -> AsyncIterator[list[Any]]:
    result = await conn.stream(
        select(*(codes_t.c[name] for name in BATCH_CSV_COLUMNS))
        .where(codes_t.c.batch_id == batch_id)
        .order_by(codes_t.c.id)
    )
    async for rows in result.partitions(chunk):
        yield list(rows)


@dataclass(frozen=True)
class AttemptFilter:
    promocode: str | None = None
    user_id: uuid.UUID | None = None
    reason: str | None = None
    since: datetime | None = None
    limit: int = 100


async def attempts(conn: AsyncConnection, f: AttemptFilter) -> list[dict[str, Any]]:
    """Failed attempts, newest first."""
    t = attempts_t
    statement = select(t).order_by(t.c.created_at.desc(), t.c.id.desc()).limit(f.limit)
    if f.promocode:
        typed = f.promocode.strip()
        code_id = select(codes_t.c.id).where(codes_t.c.code == typed.upper()).scalar_subquery()
        statement = statement.where(
            or_(t.c.promocode_id == code_id, t.c.code.in_([typed, typed.upper()]))
        )
    if f.user_id:
        statement = statement.where(t.c.user_id == f.user_id)
    if f.reason:
        statement = statement.where(t.c.reason == f.reason)
    if f.since:
        statement = statement.where(t.c.created_at >= f.since)
    return [dict(r._mapping) for r in await conn.execute(statement)]


# -- rebuild -----------------------------------------------------------------------------


async def max_attempt_id(conn: AsyncConnection) -> int:
    return await conn.scalar(select(func.coalesce(func.max(attempts_t.c.id), 0)))


async def all_tariffs(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(select(tariffs_t))
    return [to_jsonable_python(events.tariff_payload(r)) for r in rows]


async def all_groups(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(select(groups_t.c.id, groups_t.c.name, groups_t.c.description))
    return [dict(r._mapping) for r in rows]


async def rows_in_chunks(
    conn: AsyncConnection, statement, chunk: int = CHUNK
) -> AsyncIterator[list[Any]]:
    result = await conn.stream(statement)
    async for rows in result.partitions(chunk):
        yield list(rows)


def all_codes():
    return select(codes_t).order_by(codes_t.c.id)


def all_members():
    return select(members_t.c.group_id, members_t.c.user_id)


def all_assignments():
    a = assignments_t
    return select(a.c.promocode_id, a.c.user_id, a.c.group_id)


def all_user_uses():
    """Per-user uses with the code's version they are current at."""
    return select(
        user_uses_t.c.promocode_id, user_uses_t.c.user_id, user_uses_t.c.uses, codes_t.c.version
    ).join(codes_t, codes_t.c.id == user_uses_t.c.promocode_id)


def all_purchases():
    return select(purchases_t)


def all_failure_counts():
    t = attempts_t
    return (
        select(t.c.promocode_id, t.c.reason, func.count().label("n"))
        .where(t.c.promocode_id.is_not(None))
        .group_by(t.c.promocode_id, t.c.reason)
    )


def all_user_statuses():
    return select(users_t.c.id, users_t.c.status, users_t.c.updated_at)
