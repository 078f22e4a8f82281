"""Test-only looks into (or nudges of) the loyalty database."""

import uuid

from sqlalchemy import text

from core.config import get_settings
from core.db import get_engine


async def sql(statement: str, **params) -> list[dict]:
    async with get_engine(get_settings().loyalty_database_url).begin() as conn:
        result = await conn.execute(text(statement), params)
        return [dict(r) for r in result.mappings()] if result.returns_rows else []


async def attempts_of(user_id: uuid.UUID) -> list[dict]:
    return await sql("SELECT * FROM promocode_attempts WHERE user_id = :u ORDER BY id", u=user_id)


async def events_for(aggregate_id, type: str | None = None) -> list[dict]:
    rows = await sql(
        "SELECT type, payload FROM outbox WHERE aggregate_id = :a ORDER BY id",
        a=str(aggregate_id),
    )
    return [r for r in rows if type is None or r["type"] == type]


async def loyalty_status(user_id: uuid.UUID | str) -> str | None:
    """The status of the loyalty side's replica of a user (None: not known there)."""
    rows = await sql("SELECT status FROM users WHERE id = :id", id=uuid.UUID(str(user_id)))
    return rows[0]["status"] if rows else None
