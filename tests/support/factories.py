"""Factories for tests: rows of their own (unique ids and names), tokens as auth issues them."""

import uuid

from auth.models import outbox as auth_outbox
from auth.tokens import issue_access_token
from core.config import get_settings
from core.db import get_sessionmaker
from core.outbox import UnitOfWork
from core.streams import AUTH_USERS
from loyalty.models import User


def bearer(user_id: uuid.UUID, role: str = "user") -> dict[str, str]:
    token = issue_access_token(user_id, role, get_settings()).token
    return {"Authorization": f"Bearer {token}"}


EVENT_FOR_STATUS = {
    "active": "user.registered",
    "blocked": "user.blocked",
    "deleted": "user.deleted",
}


async def create_loyalty_user(status: str = "active") -> uuid.UUID:
    """A user known to the loyalty side, as the user-sync worker would record it, and the
    auth event that tells the read side (published by the relay, like auth's own)."""
    user_id = uuid.uuid4()
    settings = get_settings()
    async with get_sessionmaker(settings.loyalty_database_url)() as session:
        session.add(User(id=user_id, status=status))
        await session.commit()
    async with UnitOfWork(get_sessionmaker(settings.auth_database_url), auth_outbox) as uow:
        payload = {"user_id": user_id, "status": status}
        uow.emit(AUTH_USERS, EVENT_FOR_STATUS[status], user_id, payload)
        await uow.commit()
    return user_id
