"""`Idempotency-Key`: the same key with the same body within 24 hours replays the first answer.

Scoped by (user, endpoint, key). The first request inserts a `running` row in its own short
transaction, so a parallel duplicate sees it at once (409 `idempotency_key_in_use`). The
answer is recorded with `record()`: a handler does it inside its own transaction, so the
change and its stored answer commit together; errors are recorded the same way. A failure
that is not an answer (a crash, a 5xx) deletes the row, so the client may retry.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import AppError, Conflict, ValidationFailed, error_body
from loyalty.models import IdempotencyKey

keys = IdempotencyKey.__table__
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Claim:
    """This request owns the key: run it and record its answer."""

    user_id: uuid.UUID
    endpoint: str
    key: str
    request_hash: str


@dataclass(frozen=True)
class Replay:
    """The key was used before with the same body: answer exactly this."""

    status_code: int
    body: dict[str, Any]


def request_hash(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _where(claim_or_key) -> list:
    return [
        keys.c.user_id == claim_or_key.user_id,
        keys.c.endpoint == claim_or_key.endpoint,
        keys.c.key == claim_or_key.key,
    ]


async def begin(
    sessionmaker: async_sessionmaker,
    *,
    user_id: uuid.UUID,
    endpoint: str,
    key: str,
    body: dict[str, Any],
    ttl_seconds: int,
) -> Claim | Replay:
    """Claims the key or tells how to answer; raises 422/409 when it cannot be used."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            message=f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters",
            details={"header": "Idempotency-Key"},
        )
    claim = Claim(user_id=user_id, endpoint=endpoint, key=key, request_hash=request_hash(body))
    now = datetime.now(UTC)
    async with sessionmaker() as session:
        # A key past its 24 hours is free again.
        await session.execute(delete(keys).where(*_where(claim), keys.c.expires_at <= now))
        inserted = (
            await session.execute(
                insert(keys)
                .values(
                    user_id=user_id,
                    endpoint=endpoint,
                    key=key,
                    request_hash=claim.request_hash,
                    status="running",
                    created_at=now,
                    expires_at=now + timedelta(seconds=ttl_seconds),
                )
                .on_conflict_do_nothing()
                .returning(keys.c.key)
            )
        ).first()
        if inserted is None:
            existing = (await session.execute(select(keys).where(*_where(claim)))).first()
        await session.commit()
    if inserted is not None:
        return claim
    if existing is None:  # deleted between the two statements: rare; the client may retry
        raise Conflict("idempotency_key_in_use", "This Idempotency-Key is being used; retry")
    if existing.request_hash != claim.request_hash:
        raise ValidationFailed(
            "idempotency_key_reused",
            "This Idempotency-Key was used with another request body",
        )
    if existing.status == "running":
        raise Conflict(
            "idempotency_key_in_use", "A request with this Idempotency-Key is still running"
        )
    return Replay(status_code=existing.response_status, body=existing.response_body)


async def record(session: AsyncSession, claim: Claim, status_code: int, body: dict) -> None:
    """Stores the answer in the caller's transaction (first answer wins)."""
    await session.execute(
        update(keys)
        .where(*_where(claim), keys.c.status == "running")
        .values(status="done", response_status=status_code, response_body=body)
    )


async def record_error(sessionmaker: async_sessionmaker, claim: Claim, error: AppError) -> None:
    body = error_body(error.code, error.message, error.details)
    async with sessionmaker() as session:
        await record(session, claim, error.status_code, body)
        await session.commit()


async def release(sessionmaker: async_sessionmaker, claim: Claim) -> None:
    """Forgets a claim whose request ended without an answer, so a retry can run it."""
    async with sessionmaker() as session:
        await session.execute(delete(keys).where(*_where(claim), keys.c.status == "running"))
        await session.commit()
