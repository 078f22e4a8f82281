"""SQL of purchasing: the use snapshot, the limits, purchases and the attempts log.

The limit paths never read-then-write: a use is taken by conditional statements whose
RETURNING says whether they succeeded, and a purchase changes state only from `pending`.
The hot path's statements are named below.
"""

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import Select, TextClause, bindparam, func, insert, literal, select, text, update
from sqlalchemy.dialects import postgresql

from core.db import Compiled
from core.outbox import NOTIFY_CHANNEL, Event
from core.repository import M, Repository
from loyalty.audience.repository import codes_assigned_to, users
from loyalty.domain import errors
from loyalty.domain.enums import PurchaseStatus
from loyalty.domain.events import Counters
from loyalty.domain.rules import UseFacts
from loyalty.models import Promocode, PromocodeAttempt, PromocodeUserUses, Purchase, Tariff
from loyalty.purchasing.idempotency import Claim, keys

tariffs = Tariff.__table__
promocodes = Promocode.__table__
user_uses = PromocodeUserUses.__table__
purchases = Purchase.__table__
attempts = PromocodeAttempt.__table__


def _take_use() -> TextClause:
    """The hot path's one statement (`TAKE_USE`), its purchase columns read off the table."""
    columns = ", ".join(c.name for c in purchases.c)
    values = ", ".join(
        f"CAST(:{c.name} AS {c.type.compile(dialect=postgresql.dialect())})" for c in purchases.c
    )
    # The names put in are the table's own, never a caller's.
    return text(
        f"""
        WITH code AS MATERIALIZED (
            SELECT id FROM promocodes
            WHERE id = :promocode_id AND (max_uses IS NULL OR uses < max_uses)
            FOR UPDATE
        ), mine AS (
            INSERT INTO promocode_user_uses AS u (promocode_id, user_id, uses)
            SELECT id, :user_id, 1 FROM code
            ON CONFLICT (promocode_id, user_id) DO UPDATE SET uses = u.uses + 1
            WHERE CAST(:per_user_limit AS integer) IS NULL
               OR u.uses < CAST(:per_user_limit AS integer)
            RETURNING uses
        ), taken AS (
            UPDATE promocodes SET uses = uses + 1, version = version + 1
            WHERE id = :promocode_id AND (max_uses IS NULL OR uses < max_uses)
              AND EXISTS (SELECT FROM mine)
            RETURNING uses, version
        ), bought AS (
            INSERT INTO purchases ({columns}) SELECT {values} FROM taken
        ), announced AS (
            INSERT INTO outbox
                (event_id, stream, type, aggregate_id, payload, occurred_at, context)
            SELECT :event_id, :stream, :type, :aggregate_id,
                   CAST(:payload AS jsonb) || jsonb_build_object(
                       'promocode_uses', taken.uses,
                       'promocode_version', taken.version,
                       'user_uses', mine.uses),
                   :occurred_at, CAST(:context AS jsonb)
            FROM taken, mine
        ), answered AS (
            UPDATE {keys.name}
            SET status = 'done', response_status = :response_status,
                response_body = CAST(:response_body AS jsonb)
            WHERE user_id = :user_id AND endpoint = :endpoint AND key = :key
              AND status = 'running' AND EXISTS (SELECT FROM taken)
        )
        SELECT EXISTS (SELECT FROM code) AS use_left, (SELECT uses FROM mine) AS user_uses,
               taken.uses, taken.version,
               CASE WHEN taken.uses IS NOT NULL THEN pg_notify(:channel, '') END AS notified
        FROM (SELECT 1) AS one LEFT JOIN taken ON true
        """  # noqa: S608
    )


# One use of a code by a user, in one statement that is its own transaction (autocommit):
# the code's row locked if a use is left, then the user's use if under their limit, the
# code's use, the purchase, its event (the outbox row, the counters after the use merged into
# its payload), the answer stored for an Idempotency-Key, and the relay's wake-up. A hot
# code's row is locked for this statement only, its commit included, with no round trip to
# the application in between. Locked first, the code's row makes the statement all or
# nothing: a code used up takes nothing, a user at their limit takes nothing, and each lock
# is taken in the same order on every path (the code's row, then the user's counter).
TAKE_USE = Compiled.of(_take_use())

# One use given back to the code's row and the user's counter, in one statement and in the
# lock order of `TAKE_USE` (the user's counter is changed only after the code's row).
GIVE_BACK = text(
    """
    WITH code AS (
        UPDATE promocodes SET uses = GREATEST(uses - 1, 0), version = version + 1
        WHERE id = :promocode_id
        RETURNING uses, version
    ), mine AS (
        UPDATE promocode_user_uses SET uses = uses - 1
        WHERE promocode_id = :promocode_id AND user_id = :user_id AND uses > 0
          AND EXISTS (SELECT FROM code)
        RETURNING uses
    )
    SELECT code.uses, code.version, (SELECT uses FROM mine) AS user_uses FROM code
    """
)


def _snapshot() -> Select:
    """The use snapshot, built once (its parameters: user_id, code, tariff_id)."""
    user_id = bindparam("user_id")
    t, p = tariffs.alias("t"), promocodes.alias("p")
    one = select(literal(1).label("one")).subquery("one")
    return select(
        select(users.c.status).where(users.c.id == user_id).scalar_subquery().label("status"),
        func.coalesce(
            select(user_uses.c.uses)
            .where(user_uses.c.promocode_id == p.c.id, user_uses.c.user_id == user_id)
            .scalar_subquery(),
            0,
        ).label("uses_of_user"),
        p.c.id.in_(codes_assigned_to(user_id)).label("reaches_user"),
        *[c.label(f"t_{c.name}") for c in t.c],
        *[c.label(f"p_{c.name}") for c in p.c],
    ).select_from(
        one.outerjoin(t, t.c.id == bindparam("tariff_id")).outerjoin(
            p, p.c.code == bindparam("code")
        )
    )


SNAPSHOT = Compiled.of(_snapshot())


def _columns(row: Any, prefix: str, model: type[M]) -> M | None:
    """The `model` whose columns the row holds under `prefix`; None when it holds none. Built
    without validation: the database's own rows are valid, and this is the hot path."""
    values = {c.name: row[f"{prefix}{c.name}"] for c in model.__table__.c}
    return None if values["id"] is None else model.model_construct(**values)


class UseStatements:
    """A use on a bare connection (`core.db.direct`), each statement its own transaction: the
    snapshot the rules judge, then the use taken in one statement."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    async def snapshot(self, user_id: uuid.UUID, code: str, tariff_id: int) -> UseFacts:
        """The tariff, the code, whether it reaches the user, their status and their uses of
        it: one round trip (a plain read; the limits are taken later by one conditional
        statement)."""
        params = {"user_id": user_id, "code": code, "tariff_id": tariff_id}
        row = await self.connection.fetchrow(SNAPSHOT.sql, *SNAPSHOT.args(params))
        return UseFacts(
            tariff=_columns(row, "t_", Tariff),
            promocode=_columns(row, "p_", Promocode),
            assigned_to_user=bool(row["reaches_user"]),
            user_status=row["status"],
            user_uses=row["uses_of_user"],
        )

    async def take(
        self,
        purchase: Purchase,
        per_user_limit: int | None,
        event: Event,
        answer: tuple[Claim, int, dict[str, Any]] | None = None,
    ) -> Counters | type[errors.Rejection]:
        """The code's use, the user's, the `purchase`, its `event` and the `answer` (status,
        body) for an Idempotency-Key claim (see `TAKE_USE`), all or nothing: the counters
        after it, or why nothing was taken (the code used up, the user at their limit)."""
        claim, status_code, body = answer or (None, None, None)
        values = {
            **{c.name: getattr(purchase, c.name) for c in purchases.c},
            "per_user_limit": per_user_limit,
            "event_id": event.event_id,
            "stream": event.stream,
            "type": event.type,
            "aggregate_id": event.aggregate_id,
            "payload": json.dumps(event.payload),
            "occurred_at": event.occurred_at,
            "context": event.context and json.dumps(event.context),  # core.tracing
            "endpoint": claim and claim.endpoint,
            "key": claim and claim.key,
            "response_status": status_code,
            "response_body": body and json.dumps(body),
            "channel": NOTIFY_CHANNEL,
        }
        row = await self.connection.fetchrow(TAKE_USE.sql, *TAKE_USE.args(values))
        if not row["use_left"]:
            return errors.PromocodeExhausted
        if row["user_uses"] is None:
            return errors.UserLimitReached
        return Counters(
            promocode_uses=row["uses"], promocode_version=row["version"], user_uses=row["user_uses"]
        )


class UseRepository(Repository):
    """A code's uses and each user's, in a unit of work: given back, or read."""

    async def of_user(self, promocode_id: int, user_id: uuid.UUID) -> int:
        uses = await self.session.execute(
            select(user_uses.c.uses).where(
                user_uses.c.promocode_id == promocode_id, user_uses.c.user_id == user_id
            )
        )
        return uses.scalar_one_or_none() or 0

    async def give_back(self, promocode_id: int, user_id: uuid.UUID) -> Counters:
        """Returns one use to the code's row and the user's counter (see `GIVE_BACK`)."""
        params = {"promocode_id": promocode_id, "user_id": user_id}
        given = (await self.session.execute(GIVE_BACK, params)).one()
        return Counters(
            promocode_uses=given.uses,
            promocode_version=given.version,
            user_uses=given.user_uses or 0,
        )

    async def counters(self, promocode_id: int, user_id: uuid.UUID) -> Counters:
        code = (
            await self.session.execute(
                select(promocodes.c.uses, promocodes.c.version).where(
                    promocodes.c.id == promocode_id
                )
            )
        ).one()
        return Counters(
            promocode_uses=code.uses,
            promocode_version=code.version,
            user_uses=await self.of_user(promocode_id, user_id),
        )


class PurchaseRepository(Repository):
    async def add(self, values: dict[str, Any]) -> Purchase:
        return await self._first(
            insert(purchases).values(**values).returning(*purchases.c), Purchase
        )

    async def get(self, purchase_id: uuid.UUID) -> Purchase | None:
        return await self._first(select(purchases).where(purchases.c.id == purchase_id), Purchase)

    async def mark_paid(self, purchase_id: uuid.UUID, now: datetime) -> Purchase | None:
        """pending → paid; None when it was not pending any more (a cancel won)."""
        return await self._settle(purchase_id, status=PurchaseStatus.paid, paid_at=now)

    async def mark_cancelled(
        self, purchase_id: uuid.UUID, now: datetime, reason: str
    ) -> Purchase | None:
        """pending → cancelled; None when it was not pending any more (a confirm won)."""
        return await self._settle(
            purchase_id, status=PurchaseStatus.cancelled, cancelled_at=now, cancel_reason=reason
        )

    async def _settle(self, purchase_id: uuid.UUID, **values: Any) -> Purchase | None:
        return await self._first(
            update(purchases)
            .where(purchases.c.id == purchase_id, purchases.c.status == PurchaseStatus.pending)
            .values(**values)
            .returning(*purchases.c),
            Purchase,
        )

    async def expired_reservations(self, now: datetime, limit: int) -> list[uuid.UUID]:
        return await self._scalars(
            select(purchases.c.id)
            .where(purchases.c.status == PurchaseStatus.pending, purchases.c.expires_at < now)
            .order_by(purchases.c.expires_at)
            .limit(limit)
        )


class AttemptRepository(Repository):
    async def add(self, values: dict[str, Any]) -> PromocodeAttempt:
        return await self._first(
            insert(attempts).values(**values).returning(*attempts.c), PromocodeAttempt
        )
