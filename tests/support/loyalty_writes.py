"""The write side as the read-side tests drive it, one short call per change.

Most are the real handlers (rows and outbox events in one transaction, exactly what command_api
emits). Two changes have no loyalty handler a test can call so directly, and are written here
with their outbox event: a rejected attempt with a chosen reason (`reject`), and a user's status
change that comes from auth (`set_user_status`). The REAL relay and streams then carry the
events, so the projector sees exactly what the write side emits (the contract in
loyalty/events.py).
"""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, update

from auth.models import outbox as auth_outbox
from core.config import get_settings
from core.db import get_sessionmaker
from core.outbox import UnitOfWork
from core.streams import AUTH_USERS, LOYALTY_EVENTS
from loyalty import handlers
from loyalty.domain import events
from loyalty.models import PromocodeAttempt, User, outbox
from loyalty.schemas import (
    AssignmentRequest,
    CancelRequest,
    MembersRequest,
    PromocodeOut,
    PromocodeUpdate,
    PurchaseOut,
    TariffOut,
)
from tests.support.factories import OPERATOR_ID, request


async def update_code(code_id: int, **changes: Any) -> PromocodeOut:
    """A PATCH: fields changed, version bumped, snapshot emitted."""
    return await handlers.update_promocode(
        code_id, PromocodeUpdate(**changes), actor_id=OPERATOR_ID
    )


async def assign(code_id: int, user_ids=(), group_ids=()) -> None:
    body = AssignmentRequest(user_ids=list(user_ids), group_ids=list(group_ids))
    await handlers.assign_promocode(code_id, body, actor_id=OPERATOR_ID)


async def add_members(group_id: int, *user_ids: uuid.UUID) -> None:
    body = MembersRequest(user_ids=list(user_ids))
    await handlers.add_group_members(group_id, body, actor_id=OPERATOR_ID)


async def remove_members(group_id: int, *user_ids: uuid.UUID) -> None:
    body = MembersRequest(user_ids=list(user_ids))
    await handlers.remove_group_members(group_id, body, actor_id=OPERATOR_ID)


async def reserve(user_id: uuid.UUID, promo: PromocodeOut, tariff: TariffOut) -> PurchaseOut:
    """use_promocode: one use taken, a pending purchase, `purchase.reserved`."""
    return await handlers.use_promocode(request(promo.code, tariff.id), actor_id=user_id)


async def cancel(purchase: PurchaseOut) -> PurchaseOut:
    """cancel_use_promocode: the reserved use is given back, `purchase.cancelled`."""
    body = CancelRequest(purchase_id=purchase.purchase_id)
    return await handlers.cancel_use_promocode(body, actor_id=purchase.user_id)


async def reject(user_id: uuid.UUID, promo: PromocodeOut | None, reason: str, typed: str) -> int:
    """A rejected attempt with exactly this reason, logged and published as the engine does."""
    attempts = PromocodeAttempt.__table__
    async with UnitOfWork(get_sessionmaker(get_settings().loyalty_database_url), outbox) as uow:
        attempt = {
            "user_id": user_id,
            "code": typed,
            "promocode_id": promo.id if promo else None,
            "reason": reason,
            "endpoint": "apply_promocode",
            "created_at": datetime.now(UTC),
        }
        attempt_id = (
            await uow.session.execute(insert(attempts).values(**attempt).returning(attempts.c.id))
        ).scalar_one()
        payload = {"attempt_id": attempt_id, "tariff_id": None, **attempt}
        uow.emit(LOYALTY_EVENTS, events.PROMOCODE_REJECTED, attempt_id, payload)
        await uow.commit()
    return attempt_id


async def set_user_status(user_id: uuid.UUID, event_type: str) -> None:
    """What auth does on block/unblock/delete: `auth.users` through auth's outbox."""
    status = {"user.blocked": "blocked", "user.deleted": "deleted"}.get(event_type, "active")
    now = datetime.now(UTC)
    async with UnitOfWork(get_sessionmaker(get_settings().auth_database_url), auth_outbox) as uow:
        payload = {"user_id": user_id, "status": status, "occurred_at": now}
        uow.emit(AUTH_USERS, event_type, user_id, payload)
        await uow.commit()
    # The loyalty replica follows too (user sync does it in a running platform).
    async with get_sessionmaker(get_settings().loyalty_database_url)() as session:
        users = User.__table__
        await session.execute(
            update(users).where(users.c.id == user_id).values(status=status, updated_at=now)
        )
        await session.commit()
