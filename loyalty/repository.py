"""Every SQL statement of the write side. Handlers call these inside their unit of work.

The limit paths never read-then-write: a use is taken by conditional statements whose
RETURNING says whether they succeeded, and a purchase changes state only from `pending`.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, insert, literal, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

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

tariffs = Tariff.__table__
promocodes = Promocode.__table__
assignments = PromocodeAssignment.__table__
user_uses_table = PromocodeUserUses.__table__
purchases = Purchase.__table__
attempts = PromocodeAttempt.__table__
users = User.__table__
groups = UserGroup.__table__
members = GroupMember.__table__
batches = PromocodeBatch.__table__


def _tariff(row) -> Tariff | None:
    return None if row is None else Tariff(**row._mapping)


def _promocode(row) -> Promocode | None:
    return None if row is None else Promocode(**row._mapping)


def _purchase(row) -> Purchase | None:
    return None if row is None else Purchase(**row._mapping)


@dataclass(frozen=True)
class UseSnapshot:
    """Everything the rules need to judge one use, read in one statement."""

    tariff: Tariff | None
    promocode: Promocode | None
    assigned_to_user: bool
    user_status: str | None
    user_uses: int


@dataclass(frozen=True)
class Counters:
    """A code's absolute counters right after a change (for `purchase_payload`)."""

    promocode_uses: int
    promocode_version: int
    user_uses: int


class LoyaltyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ---- users and groups ------------------------------------------------------------------

    async def user_status(self, user_id: uuid.UUID) -> str | None:
        return (
            await self.session.execute(select(users.c.status).where(users.c.id == user_id))
        ).scalar_one_or_none()

    async def user_statuses(self, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        rows = await self.session.execute(
            select(users.c.id, users.c.status).where(users.c.id.in_(list(user_ids)))
        )
        return {r.id: r.status for r in rows}

    async def existing_group_ids(self, group_ids: Sequence[int]) -> set[int]:
        rows = await self.session.execute(select(groups.c.id).where(groups.c.id.in_(group_ids)))
        return set(rows.scalars())

    async def insert_group(self, name: str, description: str) -> UserGroup | None:
        """None when the name is taken."""
        row = (
            await self.session.execute(
                pg_insert(groups)
                .values(name=name, description=description, created_at=func.now())
                .on_conflict_do_nothing(index_elements=[groups.c.name])
                .returning(*groups.c)
            )
        ).first()
        return None if row is None else UserGroup(**row._mapping)

    async def group_exists(self, group_id: int) -> bool:
        return bool(await self.existing_group_ids([group_id]))

    async def add_members(self, group_id: int, user_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
        if not user_ids:
            return []
        rows = await self.session.execute(
            pg_insert(members)
            .values(
                [{"group_id": group_id, "user_id": u, "added_at": func.now()} for u in user_ids]
            )
            .on_conflict_do_nothing()
            .returning(members.c.user_id)
        )
        return list(rows.scalars())

    async def remove_members(self, group_id: int, user_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
        rows = await self.session.execute(
            delete(members)
            .where(members.c.group_id == group_id, members.c.user_id.in_(list(user_ids)))
            .returning(members.c.user_id)
        )
        return list(rows.scalars())

    # ---- tariffs ---------------------------------------------------------------------------

    async def tariff(self, tariff_id: int) -> Tariff | None:
        row = (await self.session.execute(select(tariffs).where(tariffs.c.id == tariff_id))).first()
        return _tariff(row)

    async def tariff_by_name(self, name: str) -> Tariff | None:
        row = (await self.session.execute(select(tariffs).where(tariffs.c.name == name))).first()
        return _tariff(row)

    async def existing_tariff_ids(self, tariff_ids: Sequence[int]) -> set[int]:
        rows = await self.session.execute(
            select(tariffs.c.id).where(tariffs.c.id.in_(list(tariff_ids)))
        )
        return set(rows.scalars())

    async def insert_tariff(self, values: dict[str, Any]) -> Tariff | None:
        """None when the name is taken."""
        row = (
            await self.session.execute(
                pg_insert(tariffs)
                .values(**values, created_at=func.now(), updated_at=func.now())
                .on_conflict_do_nothing(index_elements=[tariffs.c.name])
                .returning(*tariffs.c)
            )
        ).first()
        return _tariff(row)

    async def update_tariff(self, tariff_id: int, values: dict[str, Any]) -> Tariff | None:
        row = (
            await self.session.execute(
                update(tariffs)
                .where(tariffs.c.id == tariff_id)
                .values(**values, updated_at=func.now())
                .returning(*tariffs.c)
            )
        ).first()
        return _tariff(row)

    # ---- promo codes -----------------------------------------------------------------------

    async def promocode(self, promocode_id: int) -> Promocode | None:
        row = (
            await self.session.execute(select(promocodes).where(promocodes.c.id == promocode_id))
        ).first()
        return _promocode(row)

    async def promocode_by_code(self, code: str) -> Promocode | None:
        row = (
            await self.session.execute(select(promocodes).where(promocodes.c.code == code))
        ).first()
        return _promocode(row)

    async def insert_promocode(self, values: dict[str, Any]) -> Promocode | None:
        """None when the code is taken."""
        row = (
            await self.session.execute(
                pg_insert(promocodes)
                .values(**values, created_at=func.now(), updated_at=func.now())
                .on_conflict_do_nothing(index_elements=[promocodes.c.code])
                .returning(*promocodes.c)
            )
        ).first()
        return _promocode(row)

    async def update_promocode(self, promocode_id: int, values: dict[str, Any]) -> Promocode | None:
        """Every UPDATE of a code bumps its version (read models keep the newest)."""
        row = (
            await self.session.execute(
                update(promocodes)
                .where(promocodes.c.id == promocode_id)
                .values(**values, version=promocodes.c.version + 1, updated_at=func.now())
                .returning(*promocodes.c)
            )
        ).first()
        return _promocode(row)

    async def use_snapshot(self, user_id: uuid.UUID, code: str, tariff_id: int) -> UseSnapshot:
        """The tariff, the code, whether it reaches the user, their status and their uses of
        it: one round trip (a plain read; the limits are taken later by conditional updates)."""
        t, p = tariffs.alias("t"), promocodes.alias("p")
        one = select(literal(1).label("one")).subquery("one")
        their_groups = select(members.c.group_id).where(members.c.user_id == user_id)
        reaches_user = exists().where(
            assignments.c.promocode_id == p.c.id,
            or_(assignments.c.user_id == user_id, assignments.c.group_id.in_(their_groups)),
        )
        statement = select(
            select(users.c.status).where(users.c.id == user_id).scalar_subquery().label("status"),
            func.coalesce(
                select(user_uses_table.c.uses)
                .where(
                    user_uses_table.c.promocode_id == p.c.id,
                    user_uses_table.c.user_id == user_id,
                )
                .scalar_subquery(),
                0,
            ).label("uses_of_user"),
            reaches_user.label("reaches_user"),
            *[c.label(f"t_{c.name}") for c in t.c],
            *[c.label(f"p_{c.name}") for c in p.c],
        ).select_from(one.outerjoin(t, t.c.id == tariff_id).outerjoin(p, p.c.code == code))
        row = (await self.session.execute(statement)).one()._mapping

        def columns(prefix: str, table) -> dict[str, Any]:
            return {c.name: row[f"{prefix}{c.name}"] for c in table.c}

        tariff_values, code_values = columns("t_", tariffs), columns("p_", promocodes)
        return UseSnapshot(
            tariff=None if tariff_values["id"] is None else Tariff(**tariff_values),
            promocode=None if code_values["id"] is None else Promocode(**code_values),
            assigned_to_user=bool(row["reaches_user"]),
            user_status=row["status"],
            user_uses=row["uses_of_user"],
        )

    async def is_assigned(self, promocode_id: int, user_id: uuid.UUID) -> bool:
        """The code reaches the user directly or through one of their groups."""
        found = await self.session.execute(
            text(
                """
                SELECT 1 FROM promocode_assignments a
                WHERE a.promocode_id = :promocode_id
                  AND (a.user_id = :user_id
                       OR a.group_id IN (SELECT group_id FROM group_members
                                         WHERE user_id = :user_id))
                LIMIT 1
                """
            ),
            {"promocode_id": promocode_id, "user_id": user_id},
        )
        return found.first() is not None

    async def add_assignments(
        self, promocode_id: int, user_ids: Sequence[uuid.UUID], group_ids: Sequence[int]
    ) -> tuple[list[uuid.UUID], list[int]]:
        """The ids newly assigned (those already there are left alone)."""
        added_users: list[uuid.UUID] = []
        added_groups: list[int] = []
        if user_ids:
            rows = await self.session.execute(
                pg_insert(assignments)
                .values(
                    [
                        {"promocode_id": promocode_id, "user_id": u, "created_at": func.now()}
                        for u in user_ids
                    ]
                )
                .on_conflict_do_nothing()
                .returning(assignments.c.user_id)
            )
            added_users = list(rows.scalars())
        if group_ids:
            rows = await self.session.execute(
                pg_insert(assignments)
                .values(
                    [
                        {"promocode_id": promocode_id, "group_id": g, "created_at": func.now()}
                        for g in group_ids
                    ]
                )
                .on_conflict_do_nothing()
                .returning(assignments.c.group_id)
            )
            added_groups = list(rows.scalars())
        return added_users, added_groups

    async def remove_assignments(
        self, promocode_id: int, user_ids: Sequence[uuid.UUID], group_ids: Sequence[int]
    ) -> tuple[list[uuid.UUID], list[int]]:
        removed_users: list[uuid.UUID] = []
        removed_groups: list[int] = []
        if user_ids:
            rows = await self.session.execute(
                delete(assignments)
                .where(
                    assignments.c.promocode_id == promocode_id,
                    assignments.c.user_id.in_(list(user_ids)),
                )
                .returning(assignments.c.user_id)
            )
            removed_users = list(rows.scalars())
        if group_ids:
            rows = await self.session.execute(
                delete(assignments)
                .where(
                    assignments.c.promocode_id == promocode_id,
                    assignments.c.group_id.in_(list(group_ids)),
                )
                .returning(assignments.c.group_id)
            )
            removed_groups = list(rows.scalars())
        return removed_users, removed_groups

    # ---- batches ---------------------------------------------------------------------------

    async def insert_batch(self, values: dict[str, Any]) -> uuid.UUID:
        return (
            await self.session.execute(
                insert(batches).values(**values, created_at=func.now()).returning(batches.c.id)
            )
        ).scalar_one()

    async def insert_batch_codes(self, codes: Sequence[str], template: dict[str, Any]) -> int:
        """Inserts the codes that are not taken yet (one statement); returns how many were new."""
        result = await self.session.execute(
            text(
                """
                INSERT INTO promocodes (code, discount_type, value, valid_from, valid_until,
                    max_uses, per_user_limit, tariff_ids, audience, is_active, batch_id,
                    description, uses, version, created_at, updated_at)
                SELECT c, :discount_type, :value, :valid_from, :valid_until, :max_uses,
                    :per_user_limit, CAST(:tariff_ids AS integer[]), :audience, :is_active,
                    :batch_id, :description, 0, 1, now(), now()
                FROM unnest(CAST(:codes AS text[])) AS c
                ON CONFLICT (code) DO NOTHING
                """
            ),
            {**template, "codes": list(codes)},
        )
        return result.rowcount

    async def batch_codes(self, batch_id: uuid.UUID) -> list[str]:
        rows = await self.session.execute(
            select(promocodes.c.code)
            .where(promocodes.c.batch_id == batch_id)
            .order_by(promocodes.c.id)
        )
        return list(rows.scalars())

    # ---- the limits ------------------------------------------------------------------------

    async def user_uses(self, promocode_id: int, user_id: uuid.UUID) -> int:
        uses = await self.session.execute(
            select(user_uses_table.c.uses).where(
                user_uses_table.c.promocode_id == promocode_id,
                user_uses_table.c.user_id == user_id,
            )
        )
        return uses.scalar_one_or_none() or 0

    async def take_user_use(
        self, promocode_id: int, user_id: uuid.UUID, limit: int | None
    ) -> int | None:
        """One more use for this user if under `limit` (None: unlimited); their uses after it,
        or None when the limit is reached. The row lock serialises one user's parallel calls."""
        taken = await self.session.execute(
            text(
                """
                INSERT INTO promocode_user_uses AS u (promocode_id, user_id, uses)
                VALUES (:promocode_id, :user_id, 1)
                ON CONFLICT (promocode_id, user_id) DO UPDATE SET uses = u.uses + 1
                WHERE CAST(:limit AS integer) IS NULL OR u.uses < CAST(:limit AS integer)
                RETURNING uses
                """
            ),
            {"promocode_id": promocode_id, "user_id": user_id, "limit": limit},
        )
        return taken.scalar_one_or_none()

    async def take_global_use(self, promocode_id: int) -> tuple[int, int] | None:
        """One more use of the code if any is left: (uses, version) after it, or None."""
        taken = await self.session.execute(
            text(
                """
                UPDATE promocodes SET uses = uses + 1, version = version + 1, updated_at = now()
                WHERE id = :id AND (max_uses IS NULL OR uses < max_uses)
                RETURNING uses, version
                """
            ),
            {"id": promocode_id},
        )
        row = taken.first()
        return None if row is None else (row.uses, row.version)

    async def give_back_use(self, promocode_id: int, user_id: uuid.UUID) -> Counters:
        """Returns one use to the user's counter and the code's (same lock order as taking)."""
        user_uses = (
            await self.session.execute(
                text(
                    """
                    UPDATE promocode_user_uses SET uses = uses - 1
                    WHERE promocode_id = :promocode_id AND user_id = :user_id AND uses > 0
                    RETURNING uses
                    """
                ),
                {"promocode_id": promocode_id, "user_id": user_id},
            )
        ).scalar_one_or_none()
        code = (
            await self.session.execute(
                text(
                    """
                    UPDATE promocodes
                    SET uses = GREATEST(uses - 1, 0), version = version + 1, updated_at = now()
                    WHERE id = :id
                    RETURNING uses, version
                    """
                ),
                {"id": promocode_id},
            )
        ).one()
        return Counters(
            promocode_uses=code.uses, promocode_version=code.version, user_uses=user_uses or 0
        )

    async def current_counters(self, promocode_id: int, user_id: uuid.UUID) -> Counters:
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
            user_uses=await self.user_uses(promocode_id, user_id),
        )

    # ---- purchases -------------------------------------------------------------------------

    async def insert_purchase(self, values: dict[str, Any]) -> Purchase:
        row = (
            await self.session.execute(insert(purchases).values(**values).returning(*purchases.c))
        ).one()
        return Purchase(**row._mapping)

    async def purchase(self, purchase_id: uuid.UUID) -> Purchase | None:
        row = (
            await self.session.execute(select(purchases).where(purchases.c.id == purchase_id))
        ).first()
        return _purchase(row)

    async def mark_paid(self, purchase_id: uuid.UUID, now: datetime) -> Purchase | None:
        """pending → paid; None when it was not pending any more (a cancel won)."""
        row = (
            await self.session.execute(
                update(purchases)
                .where(purchases.c.id == purchase_id, purchases.c.status == "pending")
                .values(status="paid", paid_at=now)
                .returning(*purchases.c)
            )
        ).first()
        return _purchase(row)

    async def mark_cancelled(
        self, purchase_id: uuid.UUID, now: datetime, reason: str
    ) -> Purchase | None:
        """pending → cancelled; None when it was not pending any more (a confirm won)."""
        row = (
            await self.session.execute(
                update(purchases)
                .where(purchases.c.id == purchase_id, purchases.c.status == "pending")
                .values(status="cancelled", cancelled_at=now, cancel_reason=reason)
                .returning(*purchases.c)
            )
        ).first()
        return _purchase(row)

    async def expired_reservations(self, now: datetime, limit: int) -> list[uuid.UUID]:
        rows = await self.session.execute(
            select(purchases.c.id)
            .where(purchases.c.status == "pending", purchases.c.expires_at < now)
            .order_by(purchases.c.expires_at)
            .limit(limit)
        )
        return list(rows.scalars())

    # ---- attempts --------------------------------------------------------------------------

    async def insert_attempt(self, values: dict[str, Any]) -> PromocodeAttempt:
        row = (
            await self.session.execute(insert(attempts).values(**values).returning(*attempts.c))
        ).one()
        return PromocodeAttempt(**row._mapping)
