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
    AudienceVersion,
    Promocode,
    PromocodeAssignment,
    PromocodeAttempt,
    PromocodeBatch,
    PromocodeUserUses,
    Purchase,
    User,
)
from loyalty.read.active import Candidate, CodeView

codes_t = Promocode.__table__
batches_t = PromocodeBatch.__table__
assignments_t = PromocodeAssignment.__table__
versions_t = AudienceVersion.__table__
user_uses_t = PromocodeUserUses.__table__
purchases_t = Purchase.__table__
attempts_t = PromocodeAttempt.__table__
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


async def code_by_id(conn: AsyncConnection, code_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(select(codes_t).where(codes_t.c.id == code_id))).first()
    return None if row is None else code_snapshot(row)


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
    return [Candidate(CodeView.of(code_snapshot(r), r.uses), r.user_uses) for r in rows]


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


@dataclass(frozen=True)
class CodeFilter:
    batch_id: uuid.UUID | None = None
    is_active: bool | None = None
    code: str | None = None
    limit: int = 50
    offset: int = 0


async def codes_page(conn: AsyncConnection, f: CodeFilter) -> tuple[list[dict[str, Any]], bool]:
    """A page of codes as operators see them, newest first, and whether more follow."""
    statement = select(codes_t).order_by(codes_t.c.id.desc()).limit(f.limit + 1).offset(f.offset)
    if f.batch_id is not None:
        statement = statement.where(codes_t.c.batch_id == f.batch_id)
    if f.is_active is not None:
        statement = statement.where(codes_t.c.is_active.is_(f.is_active))
    if f.code is not None:
        statement = statement.where(codes_t.c.code == f.code.strip().upper())
    rows = list(await conn.execute(statement))
    return await _operator_views(conn, rows[: f.limit]), len(rows) > f.limit


async def code_detail(conn: AsyncConnection, code_id: int) -> dict[str, Any] | None:
    rows = list(await conn.execute(select(codes_t).where(codes_t.c.id == code_id)))
    views = await _operator_views(conn, rows)
    return views[0] if views else None


async def _operator_views(conn: AsyncConnection, rows: list[Any]) -> list[dict[str, Any]]:
    """Each code with its rejected attempts counted by reason (one query for the page)."""
    failures: dict[int, dict[str, int]] = {r.id: {} for r in rows}
    if rows:
        t = attempts_t
        counted = await conn.execute(
            select(t.c.promocode_id, t.c.reason, func.count().label("n"))
            .where(t.c.promocode_id.in_(list(failures)))
            .group_by(t.c.promocode_id, t.c.reason)
        )
        for r in counted:
            failures[r.promocode_id][r.reason] = r.n
    return [
        {
            **code_snapshot(row),
            "failures": dict(sorted(failures[row.id].items())),
            "failures_total": sum(failures[row.id].values()),
        }
        for row in rows
    ]


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


async def rows_in_chunks(
    conn: AsyncConnection, statement, chunk: int = CHUNK
) -> AsyncIterator[list[Any]]:
    """Rows of a server-side cursor, a chunk at a time."""
    result = await conn.stream(statement.execution_options(yield_per=chunk))
    async for rows in result.partitions(chunk):
        yield list(rows)


def listable_codes():
    """The codes a buyer can be listed: not generated in a batch, or assigned to someone."""
    assigned = select(assignments_t.c.promocode_id)
    return select(codes_t).where(or_(codes_t.c.batch_id.is_(None), codes_t.c.id.in_(assigned)))


def all_audience_versions():
    v = versions_t
    return select(v.c.kind, v.c.scope_id, v.c.target, v.c.version, v.c.present)


def all_user_uses():
    """Per-user uses with the code's version they are current at."""
    return select(
        user_uses_t.c.promocode_id, user_uses_t.c.user_id, user_uses_t.c.uses, codes_t.c.version
    ).join(codes_t, codes_t.c.id == user_uses_t.c.promocode_id)


def all_purchases():
    """A user's purchases together, so a chunk writes each user's in one command per key."""
    return select(purchases_t).order_by(purchases_t.c.user_id)


def all_user_statuses():
    return select(users_t.c.id, users_t.c.status, users_t.c.updated_at)
