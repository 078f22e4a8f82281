"""Helpers for the promo-code engine's tests: rows of their own through the real handlers."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from core.config import get_settings
from core.db import get_engine
from loyalty import handlers
from loyalty.schemas import PromocodeCreate, PromocodeRequest, TariffCreate, TariffOut

OPERATOR_ID = uuid.uuid4()


def unique_code(prefix: str = "T") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12].upper()}"


async def make_tariff(price: int = 39_900, **fields) -> TariffOut:
    body = TariffCreate(name=f"tariff-{uuid.uuid4().hex[:10]}", price=price, **fields)
    return await handlers.create_tariff(body, actor_id=OPERATOR_ID)


async def make_promocode(**fields):
    now = datetime.now(UTC)
    values = {
        "code": unique_code(),
        "discount_type": "percent",
        "value": 10,
        "valid_from": now - timedelta(days=1),
        "valid_until": now + timedelta(days=1),
        "max_uses": None,
        "per_user_limit": 1,
        **fields,
    }
    return await handlers.create_promocode(PromocodeCreate(**values), actor_id=OPERATOR_ID)


def request(code: str, tariff_id: int) -> PromocodeRequest:
    return PromocodeRequest(promocode=code, tariff_id=tariff_id)


async def sql(statement: str, **params) -> list[dict]:
    """Test-only look into (or nudge of) the loyalty database."""
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


async def create_users(count: int, status: str = "active") -> list[uuid.UUID]:
    """Many loyalty users in one statement (as the user-sync worker would record them)."""
    ids = [uuid.uuid4() for _ in range(count)]
    await sql(
        "INSERT INTO users (id, status, registered_at, updated_at) "
        "SELECT u, :s, now(), now() FROM unnest(CAST(:ids AS uuid[])) AS u",
        ids=ids,
        s=status,
    )
    return ids
