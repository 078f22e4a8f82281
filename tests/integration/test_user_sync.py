"""The user-sync handler: status follows auth's events; a replay changes nothing."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core.db import get_sessionmaker
from core.streams import Envelope
from loyalty.handlers import sync_user as handle_user_event
from loyalty.models import User


def envelope(type: str, user_id: uuid.UUID, at: datetime) -> Envelope:
    return Envelope(
        event_id=str(uuid.uuid4()),
        type=type,
        occurred_at=at.isoformat(),
        aggregate_id=str(user_id),
        payload={"user_id": str(user_id), "status": "x"},
    )


async def status_of(settings, user_id) -> str | None:
    async with get_sessionmaker(settings.loyalty_database_url)() as session:
        user = (await session.execute(select(User).where(User.id == user_id))).scalar_one_or_none()
        return user.status if user else None


async def test_status_follows_registration_block_and_unblock(settings):
    user_id, t0 = uuid.uuid4(), datetime.now(UTC)
    await handle_user_event(envelope("user.registered", user_id, t0))
    assert await status_of(settings, user_id) == "active"
    await handle_user_event(envelope("user.blocked", user_id, t0 + timedelta(seconds=1)))
    assert await status_of(settings, user_id) == "blocked"
    await handle_user_event(envelope("user.unblocked", user_id, t0 + timedelta(seconds=2)))
    assert await status_of(settings, user_id) == "active"


async def test_replayed_event_changes_nothing(settings):
    user_id, t0 = uuid.uuid4(), datetime.now(UTC)
    blocked = envelope("user.blocked", user_id, t0 + timedelta(seconds=1))
    await handle_user_event(envelope("user.registered", user_id, t0))
    await handle_user_event(blocked)
    await handle_user_event(envelope("user.unblocked", user_id, t0 + timedelta(seconds=2)))
    await handle_user_event(blocked)  # redelivered
    assert await status_of(settings, user_id) == "active"


async def test_an_older_event_arriving_late_does_not_win(settings):
    user_id, t0 = uuid.uuid4(), datetime.now(UTC)
    await handle_user_event(envelope("user.deleted", user_id, t0 + timedelta(seconds=5)))
    await handle_user_event(envelope("user.registered", user_id, t0))
    assert await status_of(settings, user_id) == "deleted"
