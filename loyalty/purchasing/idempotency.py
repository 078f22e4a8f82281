"""`Idempotency-Key`: the same key with the same body within 24 hours replays the first answer.

Scoped by (user, endpoint, key). The first request inserts a `running` row in a statement of
its own (`CLAIM`), so a parallel duplicate sees it at once (409 `idempotency_key_in_use`). The
answer is recorded in the handler's own transaction (the hot path's one statement, or
`uow.idempotency.record()`), so the change and its stored answer commit together; errors are
recorded the same way. A failure that is not an answer (a crash, a 5xx, a 429) deletes the
row, so the client may retry.
"""

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, text, update

from core.db import Compiled, direct
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


# The key claimed in one autocommit statement: inserted `running`, or taken over when its 24
# hours are over; else the row that holds it, as it was when the statement began (none when
# a parallel request inserted it meanwhile: that one runs it).
CLAIM = Compiled.of(
    text(
        f"""
        WITH claimed AS (
            INSERT INTO {keys.name} AS k
                (user_id, endpoint, key, request_hash, status, created_at, expires_at)
            VALUES (:user_id, :endpoint, :key, :request_hash, 'running', :now, :expires_at)
            ON CONFLICT (user_id, endpoint, key) DO UPDATE
            SET request_hash = EXCLUDED.request_hash, status = 'running',
                response_status = NULL, response_body = NULL,
                created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
            WHERE k.expires_at <= EXCLUDED.created_at
            RETURNING 1
        )
        SELECT EXISTS (SELECT FROM claimed) AS owned, held.request_hash, held.status,
               held.response_status, held.response_body
        FROM (SELECT 1) AS one LEFT JOIN {keys.name} AS held
          ON held.user_id = :user_id AND held.endpoint = :endpoint AND held.key = :key
        """  # noqa: S608
    )
)


class IdempotencyRepository(Repository):
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
    now = utcnow()
    values = {
        **asdict(claim),
        "now": now,
        "expires_at": now + timedelta(seconds=ctx.settings.idempotency_ttl_seconds),
    }
    async with direct(ctx.settings.loyalty_database_url) as connection:
        held = await connection.fetchrow(CLAIM.sql, *CLAIM.args(values))
    if held["owned"]:
        return claim
    if held["status"] is None:  # a parallel request claimed it after this one began
        raise IdempotencyKeyInUse()
    if held["request_hash"] != claim.request_hash:
        raise IdempotencyKeyReused()
    if held["status"] == "running":
        raise IdempotencyKeyInUse()
    return Replay(status_code=held["response_status"], body=json.loads(held["response_body"]))


async def record_error(ctx: "Context", claim: Claim, error: AppError) -> None:
    async with ctx.uow() as uow:
        await uow.idempotency.record_error(claim, error)
        await uow.commit()


async def release(ctx: "Context", claim: Claim) -> None:
    """Forgets a claim whose request ended without an answer, so a retry can run it."""
    async with ctx.uow() as uow:
        await uow.idempotency.release(claim)
        await uow.commit()
