"""Follows `auth.users` and keeps the loyalty side's users replica (id and status only)."""

import uuid
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert

from core.config import get_settings
from core.db import get_sessionmaker
from core.inbox import first_delivery
from core.outbox import UnitOfWork
from core.streams import Envelope
from loyalty.models import User, UserStatus, outbox, processed_events

CONSUMER = "user_sync"
STATUS_BY_EVENT = {
    "user.registered": UserStatus.active,
    "user.unblocked": UserStatus.active,
    "user.blocked": UserStatus.blocked,
    "user.deleted": UserStatus.deleted,
}


async def handle_user_event(envelope: Envelope) -> None:
    status = STATUS_BY_EVENT.get(envelope.type)
    if status is None:
        return
    user_id = uuid.UUID(envelope.payload["user_id"])
    occurred_at = datetime.fromisoformat(envelope.occurred_at)
    async with UnitOfWork(get_sessionmaker(get_settings().loyalty_database_url), outbox) as uow:
        if not await first_delivery(uow.session, processed_events, CONSUMER, envelope.event_id):
            return
        table = User.__table__
        # Events of one user may arrive out of order after a redelivery: the newest wins.
        statement = insert(table).values(
            id=user_id, status=status, registered_at=occurred_at, updated_at=occurred_at
        )
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.id],
            set_={"status": statement.excluded.status, "updated_at": statement.excluded.updated_at},
            where=table.c.updated_at <= statement.excluded.updated_at,
        )
        await uow.session.execute(statement)
        await uow.commit()
