"""Loyalty writes for read-side tests: rows and their outbox events in one transaction.

They stand in for command_api where a test needs a precise change (a poison event, a batch,
a counter bumped by exactly one); the REAL relay and streams carry the events, so the
projector sees exactly what the write side emits (the contract in loyalty/events.py).
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, text, update

from auth.models import outbox as auth_outbox
from core.config import get_settings
from core.db import get_sessionmaker
from core.outbox import UnitOfWork
from core.streams import AUTH_USERS, LOYALTY_EVENTS
from loyalty.domain import events
from loyalty.models import (
    GroupMember,
    Promocode,
    PromocodeAssignment,
    PromocodeAttempt,
    PromocodeBatch,
    Purchase,
    Tariff,
    User,
    UserGroup,
    outbox,
)

codes_t = Promocode.__table__


def loyalty_uow() -> UnitOfWork:
    return UnitOfWork(get_sessionmaker(get_settings().loyalty_database_url), outbox)


def unique_code(prefix: str = "RS") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12].upper()}"


async def create_tariff(price: int = 39_900) -> Tariff:
    async with loyalty_uow() as uow:
        tariff = Tariff(name=f"tariff-{uuid.uuid4().hex[:10]}", price=price)
        uow.session.add(tariff)
        await uow.session.flush()
        uow.emit(LOYALTY_EVENTS, events.TARIFF_CREATED, tariff.id, events.tariff_payload(tariff))
        await uow.commit()
    return tariff


async def create_code(**fields: Any) -> Promocode:
    now = datetime.now(UTC)
    values = {
        "code": unique_code(),
        "discount_type": "percent",
        "value": 10,
        "valid_from": now - timedelta(hours=1),
        "valid_until": now + timedelta(days=30),
        "max_uses": None,
        "per_user_limit": 1,
        "audience": "everyone",
        "description": "",
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    async with loyalty_uow() as uow:
        # Core insert: the ORM would turn an explicit None (unlimited) into the field default.
        row = (await uow.session.execute(insert(codes_t).values(**values).returning(codes_t))).one()
        promo = Promocode.model_validate(dict(row._mapping))
        uow.emit(
            LOYALTY_EVENTS, events.PROMOCODE_CREATED, promo.id, events.promocode_payload(promo)
        )
        await uow.commit()
    return promo


async def update_code(code_id: int, **changes: Any) -> Promocode:
    """A PATCH as the write side does it: fields changed, version bumped, snapshot emitted."""
    async with loyalty_uow() as uow:
        row = (
            await uow.session.execute(
                update(codes_t)
                .where(codes_t.c.id == code_id)
                .values(**changes, version=codes_t.c.version + 1, updated_at=datetime.now(UTC))
                .returning(codes_t)
            )
        ).one()
        promo = Promocode.model_validate(dict(row._mapping))
        uow.emit(LOYALTY_EVENTS, events.PROMOCODE_UPDATED, code_id, events.promocode_payload(promo))
        await uow.commit()
    return promo


async def assign(code_id: int, user_ids=(), group_ids=()) -> None:
    async with loyalty_uow() as uow:
        for user_id in user_ids:
            uow.session.add(PromocodeAssignment(promocode_id=code_id, user_id=user_id))
        for group_id in group_ids:
            uow.session.add(PromocodeAssignment(promocode_id=code_id, group_id=group_id))
        uow.emit(
            LOYALTY_EVENTS,
            events.PROMOCODE_ASSIGNED,
            code_id,
            {"promocode_id": code_id, "user_ids": list(user_ids), "group_ids": list(group_ids)},
        )
        await uow.commit()


async def create_group(*user_ids: uuid.UUID) -> int:
    async with loyalty_uow() as uow:
        group = UserGroup(name=f"group-{uuid.uuid4().hex[:10]}")
        uow.session.add(group)
        await uow.session.flush()
        uow.emit(
            LOYALTY_EVENTS,
            events.GROUP_CREATED,
            group.id,
            {"id": group.id, "name": group.name, "description": group.description},
        )
        await uow.commit()
    if user_ids:
        await add_members(group.id, *user_ids)
    return group.id


async def add_members(group_id: int, *user_ids: uuid.UUID) -> None:
    async with loyalty_uow() as uow:
        for user_id in user_ids:
            uow.session.add(GroupMember(group_id=group_id, user_id=user_id))
        uow.emit(
            LOYALTY_EVENTS,
            events.GROUP_MEMBERS_ADDED,
            group_id,
            {"group_id": group_id, "user_ids": list(user_ids)},
        )
        await uow.commit()


async def remove_members(group_id: int, *user_ids: uuid.UUID) -> None:
    async with loyalty_uow() as uow:
        await uow.session.execute(
            delete(GroupMember.__table__).where(
                GroupMember.__table__.c.group_id == group_id,
                GroupMember.__table__.c.user_id.in_(user_ids),
            )
        )
        uow.emit(
            LOYALTY_EVENTS,
            events.GROUP_MEMBERS_REMOVED,
            group_id,
            {"group_id": group_id, "user_ids": list(user_ids)},
        )
        await uow.commit()


async def _bump_counters(uow: UnitOfWork, code_id: int, user_id: uuid.UUID, delta: int):
    code = (
        await uow.session.execute(
            text(
                "UPDATE promocodes SET uses = uses + :d, version = version + 1 "
                "WHERE id = :id AND (:d < 0 OR max_uses IS NULL OR uses < max_uses) "
                "RETURNING uses, version"
            ),
            {"id": code_id, "d": delta},
        )
    ).one()
    user_uses = (
        await uow.session.execute(
            text(
                "INSERT INTO promocode_user_uses (promocode_id, user_id, uses) "
                "VALUES (:id, :u, GREATEST(:d, 0)) ON CONFLICT (promocode_id, user_id) "
                "DO UPDATE SET uses = promocode_user_uses.uses + :d RETURNING uses"
            ),
            {"id": code_id, "u": user_id, "d": delta},
        )
    ).scalar_one()
    return code.uses, user_uses, code.version


async def reserve(user_id: uuid.UUID, promo: Promocode, tariff: Tariff) -> Purchase:
    """use_promocode: one use taken, a pending purchase, `purchase.reserved`."""
    async with loyalty_uow() as uow:
        uses, user_uses, version = await _bump_counters(uow, promo.id, user_id, +1)
        discount = tariff.price * promo.value // 100
        purchase = Purchase(
            user_id=user_id,
            tariff_id=tariff.id,
            promocode_id=promo.id,
            code=promo.code,
            base_price=tariff.price,
            discount=discount,
            final_price=tariff.price - discount,
            discount_type=promo.discount_type,
            expires_at=datetime.now(UTC) + timedelta(minutes=15),
        )
        uow.session.add(purchase)
        await uow.session.flush()
        uow.emit(
            LOYALTY_EVENTS,
            events.PURCHASE_RESERVED,
            purchase.id,
            events.purchase_payload(purchase, events.Counters(uses, user_uses, version)),
        )
        await uow.commit()
    return purchase


async def cancel(purchase: Purchase) -> Purchase:
    """cancel_use_promocode: the reserved use is given back."""
    async with loyalty_uow() as uow:
        uses, user_uses, version = await _bump_counters(
            uow, purchase.promocode_id, purchase.user_id, -1
        )
        row = (
            await uow.session.execute(
                update(Purchase.__table__)
                .where(Purchase.__table__.c.id == purchase.id)
                .values(status="cancelled", cancelled_at=datetime.now(UTC), cancel_reason="test")
                .returning(Purchase.__table__)
            )
        ).one()
        cancelled = Purchase.model_validate(dict(row._mapping))
        uow.emit(
            LOYALTY_EVENTS,
            events.PURCHASE_CANCELLED,
            purchase.id,
            events.purchase_payload(cancelled, events.Counters(uses, user_uses, version)),
        )
        await uow.commit()
    return cancelled


async def reject(user_id: uuid.UUID, promo: Promocode | None, reason: str, typed: str) -> int:
    async with loyalty_uow() as uow:
        attempt_id = (
            await uow.session.execute(
                insert(PromocodeAttempt.__table__)
                .values(
                    user_id=user_id,
                    code=typed,
                    promocode_id=promo.id if promo else None,
                    reason=reason,
                    endpoint="apply_promocode",
                    created_at=datetime.now(UTC),
                )
                .returning(PromocodeAttempt.__table__.c.id, PromocodeAttempt.__table__.c.created_at)
            )
        ).one()
        uow.emit(
            LOYALTY_EVENTS,
            events.PROMOCODE_REJECTED,
            attempt_id.id,
            {
                "attempt_id": attempt_id.id,
                "user_id": user_id,
                "code": typed,
                "promocode_id": promo.id if promo else None,
                "tariff_id": None,
                "reason": reason,
                "endpoint": "apply_promocode",
                "created_at": attempt_id.created_at,
            },
        )
        await uow.commit()
    return attempt_id.id


async def generate_batch(count: int, **template: Any) -> uuid.UUID:
    """Batch codes are written in bulk and announced by one `promocode.batch_generated`."""
    now = datetime.now(UTC)
    fields = {
        "discount_type": "amount",
        "value": 5_000,
        "valid_from": now - timedelta(hours=1),
        "valid_until": now + timedelta(days=30),
        "max_uses": 1,
        "per_user_limit": 1,
        "audience": "everyone",
        **template,
    }
    prefix = f"B{uuid.uuid4().hex[:6].upper()}-"
    async with loyalty_uow() as uow:
        batch = PromocodeBatch(count=count, prefix=prefix, length=8)
        uow.session.add(batch)
        await uow.session.flush()
        await uow.session.execute(
            insert(codes_t),
            [
                {
                    **fields,
                    "code": f"{prefix}{uuid.uuid4().hex[:8].upper()}",
                    "batch_id": batch.id,
                    "created_at": now,
                    "updated_at": now,
                }
                for _ in range(count)
            ],
        )
        uow.emit(
            LOYALTY_EVENTS,
            events.BATCH_GENERATED,
            batch.id,
            {
                "batch_id": batch.id,
                "count": count,
                "prefix": prefix,
                "pattern": None,
                "length": 8,
                "template": fields,
            },
        )
        await uow.commit()
    return batch.id


async def set_user_status(user_id: uuid.UUID, event_type: str) -> None:
    """What auth does on block/unblock/delete: `auth.users` through auth's outbox."""
    status = {"user.blocked": "blocked", "user.deleted": "deleted"}.get(event_type, "active")
    async with UnitOfWork(get_sessionmaker(get_settings().auth_database_url), auth_outbox) as uow:
        uow.emit(
            AUTH_USERS,
            event_type,
            user_id,
            {"user_id": user_id, "status": status, "occurred_at": datetime.now(UTC)},
        )
        await uow.commit()
    # The loyalty replica follows too (user sync does it in a running platform).
    async with get_sessionmaker(get_settings().loyalty_database_url)() as session:
        await session.execute(
            update(User.__table__)
            .where(User.__table__.c.id == user_id)
            .values(status=status, updated_at=datetime.now(UTC))
        )
        await session.commit()


async def code_row(code_id: int) -> Promocode:
    async with get_sessionmaker(get_settings().loyalty_database_url)() as session:
        return (
            await session.execute(select(Promocode).where(Promocode.id == code_id))
        ).scalar_one()
