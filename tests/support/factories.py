"""Factories for tests: rows of their own (unique ids and names), tokens as auth issues them."""

import uuid

from auth.tokens import issue_access_token
from core.config import get_settings
from core.db import get_sessionmaker
from loyalty.models import User


def bearer(user_id: uuid.UUID, role: str = "user") -> dict[str, str]:
    token = issue_access_token(user_id, role, get_settings()).token
    return {"Authorization": f"Bearer {token}"}


async def create_loyalty_user(status: str = "active") -> uuid.UUID:
    """A user known to the loyalty side, as the user-sync worker would record it."""
    user_id = uuid.uuid4()
    async with get_sessionmaker(get_settings().loyalty_database_url)() as session:
        session.add(User(id=user_id, status=status))
        await session.commit()
    return user_id
