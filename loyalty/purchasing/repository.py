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
from sqlalchemy import Select, TextClause, bindparam, func, insert, literal, select, text
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


# What an Idempotency-Key's claim is answered: (the claim, the status code, the body).
Answer = tuple[Claim, int, dict[str, Any]]


def _announced(promocode_uses: str, promocode_version: str, user_uses: str, rows: str) -> str:
    """A hot-path statement's outbox row, one per row of `rows`: its event (the parameters),
    the code's counters after the change merged into the payload."""
    return f"""
            INSERT INTO outbox
                (event_id, stream, type, aggregate_id, payload, occurred_at, context)
            SELECT :event_id, :stream, :type, :aggregate_id,
                   CAST(:payload AS jsonb) || jsonb_build_object(
                       'promocode_uses', {promocode_uses},
                       'promocode_version', {promocode_version},
                       'user_uses', {user_uses}),
                   :occurred_at, CAST(:context AS jsonb)
            FROM {rows}"""  # noqa: S608


def _answered(done: str) -> str:
    """The answer stored for the call's Idempotency-Key (no key: nothing) once the CTE `done`
    has a row."""
    return f"""
            UPDATE {keys.name}
            SET status = 'done', response_status = :response_status,
                response_body = CAST(:response_body AS jsonb)
            WHERE user_id = :user_id AND endpoint = :endpoint AND key = :key
              AND status = 'running' AND EXISTS (SELECT FROM {done})"""  # noqa: S608


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
        ), announced AS ({_announced("taken.uses", "taken.version", "mine.uses", "taken, mine")}
        ), answered AS ({_answered("taken")}
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


def settlement(now: datetime, cancel_reason: str | None) -> dict[str, Any]:
    """What a pending purchase becomes: paid (no `cancel_reason`) or cancelled."""
    if cancel_reason is None:
        return {"status": PurchaseStatus.paid, "paid_at": now}
    return {"status": PurchaseStatus.cancelled, "cancelled_at": now, "cancel_reason": cancel_reason}


def _settle(give_back: bool) -> TextClause:
    """`SETTLE` for a cancel (`give_back`: the code's row, then the user's counter, in
    `TAKE_USE`'s lock order) or a confirm (the counters read as they are)."""
    of_code = "WHERE id = (SELECT promocode_id FROM settled)"
    of_user = "WHERE promocode_id = (SELECT promocode_id FROM settled) AND user_id = :user_id"
    if give_back:
        code = (
            "UPDATE promocodes SET uses = GREATEST(uses - 1, 0), version = version + 1 "  # noqa: S608
            f"{of_code} RETURNING uses, version"
        )
        mine = (
            f"UPDATE promocode_user_uses SET uses = uses - 1 {of_user} AND uses > 0 "  # noqa: S608
            "AND EXISTS (SELECT FROM code) RETURNING uses"
        )
    else:
        code = f"SELECT uses, version FROM promocodes {of_code}"  # noqa: S608
        mine = f"SELECT uses FROM promocode_user_uses {of_user}"  # noqa: S608
    return text(
        f"""
        WITH settled AS (
            UPDATE purchases
            SET status = :status, paid_at = :paid_at, cancelled_at = :cancelled_at,
                cancel_reason = :cancel_reason
            WHERE id = :purchase_id AND user_id = :user_id AND status = 'pending'
            RETURNING promocode_id
        ), code AS ({code}
        ), mine AS ({mine}
        ), announced AS ({
            _announced(
                "(SELECT uses FROM code)",
                "(SELECT version FROM code)",
                "CASE WHEN EXISTS (SELECT FROM code) THEN COALESCE((SELECT uses FROM mine), 0) END",
                "settled",
            )
        }
        ), answered AS ({_answered("settled")}
        )
        SELECT CASE WHEN EXISTS (SELECT FROM settled) THEN pg_notify(:channel, '') END
               AS notified,
               EXISTS (SELECT FROM settled) AS settled
        """  # noqa: S608
    )


# A buyer's pending purchase settled in one statement that is its own transaction: the
# purchase paid or cancelled (only from pending, and only the buyer's own), a cancel's use
# given back, its event with the counters after it, the answer stored for an Idempotency-Key
# and the relay's wake-up; nothing at all when it was not pending any more. As with
# `TAKE_USE`, a hot code's row is locked for this statement only.
SETTLE = {give_back: Compiled.of(_settle(give_back)) for give_back in (False, True)}


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
    """The hot path on a bare connection (`core.db.direct`), each statement its own
    transaction: a use (the snapshot the rules judge, then the use taken in one statement) and
    a purchase's settlement (the purchase read, then settled in one statement)."""

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
        answer: Answer | None = None,
    ) -> Counters | type[errors.Rejection]:
        """The code's use, the user's, the `purchase`, its `event` and the `answer` (status,
        body) for an Idempotency-Key claim (see `TAKE_USE`), all or nothing: the counters
        after it, or why nothing was taken (the code used up, the user at their limit)."""
        values = {
            **{c.name: getattr(purchase, c.name) for c in purchases.c},
            "per_user_limit": per_user_limit,
            **_outbox_values(event),
            **_answer_values(answer),
        }
        row = await self.connection.fetchrow(TAKE_USE.sql, *TAKE_USE.args(values))
        if not row["use_left"]:
            return errors.PromocodeExhausted
        if row["user_uses"] is None:
            return errors.UserLimitReached
        return Counters(
            promocode_uses=row["uses"], promocode_version=row["version"], user_uses=row["user_uses"]
        )

    async def purchase(self, purchase_id: uuid.UUID) -> Purchase | None:
        row = await self.connection.fetchrow(PURCHASE.sql, *PURCHASE.args({"id": purchase_id}))
        return None if row is None else Purchase.model_construct(**dict(row))

    async def settle(
        self,
        settled: Purchase,
        event: Event,
        answer: Answer | None = None,
    ) -> bool:
        """The pending purchase made what `settled` says, with its `event` and the `answer`
        for an Idempotency-Key claim (see `SETTLE`); False, and nothing done, when it was not
        pending any more."""
        statement = SETTLE[settled.status is PurchaseStatus.cancelled]
        values = {
            "purchase_id": settled.id,
            "user_id": settled.user_id,
            "status": settled.status,
            "paid_at": settled.paid_at,
            "cancelled_at": settled.cancelled_at,
            "cancel_reason": settled.cancel_reason,
            **_outbox_values(event),
            **_answer_values(answer),
        }
        row = await self.connection.fetchrow(statement.sql, *statement.args(values))
        return row["settled"]


def _outbox_values(event: Event) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "stream": event.stream,
        "type": event.type,
        "aggregate_id": event.aggregate_id,
        "payload": json.dumps(event.payload),
        "occurred_at": event.occurred_at,
        "context": event.context and json.dumps(event.context),  # core.tracing
        "channel": NOTIFY_CHANNEL,
    }


def _answer_values(answer: Answer | None) -> dict[str, Any]:
    claim, status_code, body = answer or (None, None, None)
    return {
        "endpoint": claim and claim.endpoint,
        "key": claim and claim.key,
        "response_status": status_code,
        "response_body": body and json.dumps(body),
    }


PURCHASE = Compiled.of(select(purchases).where(purchases.c.id == bindparam("id")))


class PurchaseRepository(Repository):
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
