"""`Idempotency-Key`: the same key with the same body within 24 hours replays the first answer.

Scoped by (user, endpoint, key). The first request inserts a `running` row in its own short
transaction, so a parallel duplicate sees it at once (409 `idempotency_key_in_use`). The
answer is recorded with `uow.idempotency.record()` inside the handler's own transaction, so
the change and its stored answer commit together; errors are recorded the same way. A
failure that is not an answer (a crash, a 5xx, a 429) deletes the row, so the client may retry.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert

from core.errors import AppError, ValidationFailed
from core.repository import Repository
from loyalty.domain.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from loyalty.models import IdempotencyKey, utcnow

if TYPE_CHECKING:
    from loyalty.context import Context

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


def _is(claim: Claim) -> list:
    return [
        keys.c.user_id == claim.user_id,
        keys.c.endpoint == claim.endpoint,
        keys.c.key == claim.key,
    ]


class IdempotencyRepository(Repository):
    async def claim(self, claim: Claim, now: datetime, ttl_seconds: int) -> bool:
        """True when this request now owns the key; a key past its 24 hours is free again."""
        await self.session.execute(delete(keys).where(*_is(claim), keys.c.expires_at <= now))
        inserted = await self.session.execute(
            insert(keys)
            .values(
                user_id=claim.user_id,
                endpoint=claim.endpoint,
                key=claim.key,
                request_hash=claim.request_hash,
                status="running",
                created_at=now,
                expires_at=now + timedelta(seconds=ttl_seconds),
            )
            .on_conflict_do_nothing()
            .returning(keys.c.key)
        )
        return inserted.first() is not None

    async def get(self, claim: Claim) -> IdempotencyKey | None:
        return await self._first(select(keys).where(*_is(claim)), IdempotencyKey)

    async def record(self, claim: Claim | None, status_code: int, body: dict) -> None:
        """Stores the answer in the caller's transaction (first answer wins); no claim, no-op."""
        if claim is None:
            return
        await self.session.execute(
            update(keys)
            .where(*_is(claim), keys.c.status == "running")
            .values(status="done", response_status=status_code, response_body=body)
        )

    async def record_error(self, claim: Claim | None, error: AppError) -> None:
        await self.record(claim, error.status_code, error.body())

    async def release(self, claim: Claim) -> None:
        await self.session.execute(delete(keys).where(*_is(claim), keys.c.status == "running"))


async def begin(
    ctx: "Context", *, user_id: uuid.UUID, endpoint: str, key: str, body: dict[str, Any]
) -> Claim | Replay:
    """Claims the key or tells how to answer; raises 422/409 when it cannot be used."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters",
            details={"header": "Idempotency-Key"},
        )
    claim = Claim(user_id=user_id, endpoint=endpoint, key=key, request_hash=request_hash(body))
    async with ctx.uow() as uow:
        owned = await uow.idempotency.claim(claim, utcnow(), ctx.settings.idempotency_ttl_seconds)
        existing = None if owned else await uow.idempotency.get(claim)
        await uow.commit()
    if owned:
        return claim
    if existing is None:  # deleted between the two statements: rare; the client may retry
        raise IdempotencyKeyInUse()
    if existing.request_hash != claim.request_hash:
        raise IdempotencyKeyReused()
    if existing.status == "running":
        raise IdempotencyKeyInUse()
    return Replay(status_code=existing.response_status, body=existing.response_body)


async def record_error(ctx: "Context", claim: Claim, error: AppError) -> None:
    async with ctx.uow() as uow:
        await uow.idempotency.record_error(claim, error)
        await uow.commit()


async def release(ctx: "Context", claim: Claim) -> None:
    """Forgets a claim whose request ended without an answer, so a retry can run it."""
    async with ctx.uow() as uow:
        await uow.idempotency.release(claim)
        await uow.commit()
