"""Factories for tests: rows of their own (unique codes and names), written through the real
handlers (rows and outbox events in one transaction, as command_api writes them), and tokens
as auth issues them.

Every `create_x(**overrides)` has a default for each field; a test names only what matters to
it. The users are the exception: the loyalty side learns them from auth's events, so they are
recorded directly, as the user-sync worker would, and the event is written to auth's outbox
for the read side (the projector), as auth writes it.
"""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from auth.models import outbox as auth_outbox
from auth.tokens import issue_access_token
from core.config import get_settings
from core.db import get_sessionmaker
from core.outbox import UnitOfWork
from core.streams import AUTH_USERS
from loyalty import handlers
from loyalty.schemas import (
    BatchOut,
    GenerateRequest,
    GroupCreate,
    GroupOut,
    MembersRequest,
    PromocodeCreate,
    PromocodeOut,
    PromocodeRequest,
    TariffCreate,
    TariffOut,
)
from tests.support.db import sql

OPERATOR_ID = uuid.uuid4()


def unique_code(prefix: str = "T") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12].upper()}"


def unique_name(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:10]}"


def bearer(user_id: uuid.UUID, role: str = "user") -> dict[str, str]:
    token = issue_access_token(user_id, role, get_settings()).token
    return {"Authorization": f"Bearer {token}"}


def request(code: str, tariff_id: int) -> PromocodeRequest:
    """A buyer's apply/use body."""
    return PromocodeRequest(promocode=code, tariff_id=tariff_id)


EVENT_FOR_STATUS = {
    "active": "user.registered",
    "blocked": "user.blocked",
    "deleted": "user.deleted",
}


async def create_loyalty_users(count: int, status: str = "active") -> list[uuid.UUID]:
    """Users known to the loyalty side (one statement however many), and their auth events."""
    ids = [uuid.uuid4() for _ in range(count)]
    await sql(
        "INSERT INTO users (id, status, registered_at, updated_at) "
        "SELECT u, :s, now(), now() FROM unnest(CAST(:ids AS uuid[])) AS u",
        ids=ids,
        s=status,
    )
    async with UnitOfWork(get_sessionmaker(get_settings().auth_database_url), auth_outbox) as uow:
        for user_id in ids:
            payload = {"user_id": user_id, "status": status}
            uow.emit(AUTH_USERS, EVENT_FOR_STATUS[status], user_id, payload)
        await uow.commit()
    return ids


async def create_loyalty_user(status: str = "active") -> uuid.UUID:
    [user_id] = await create_loyalty_users(1, status)
    return user_id


async def create_tariff(**overrides: Any) -> TariffOut:
    body = {"name": unique_name("tariff"), "price": 39_900, **overrides}
    return await handlers.create_tariff(TariffCreate(**body), actor_id=OPERATOR_ID)


def _window() -> dict[str, datetime]:
    now = datetime.now(UTC)
    return {"valid_from": now - timedelta(hours=1), "valid_until": now + timedelta(days=30)}


async def create_promocode(**overrides: Any) -> PromocodeOut:
    """A public percent code, open now, one use per user, no overall limit."""
    body = {
        "code": unique_code(),
        "discount_type": "percent",
        "value": 10,
        **_window(),
        "max_uses": None,
        "per_user_limit": 1,
        **overrides,
    }
    return await handlers.create_promocode(PromocodeCreate(**body), actor_id=OPERATOR_ID)


def unlimited_code_json(prefix: str = "T") -> dict[str, Any]:
    """The body of `POST /promocodes` for a public code anyone may use any number of times
    (10% off, open from now on), for tests that go through command_api over HTTP."""
    return {
        "code": unique_code(prefix),
        "discount_type": "percent",
        "value": 10,
        "max_uses": None,
        "per_user_limit": None,
    }


async def create_batch(count: int, **overrides: Any) -> BatchOut:
    """Generated single-use codes (one `promocode.batch_generated` event for all of them)."""
    body = {"count": count, "discount_type": "amount", "value": 5_000, **_window(), **overrides}
    return await handlers.generate_promocodes(GenerateRequest(**body), actor_id=OPERATOR_ID)


async def create_group(*members: uuid.UUID, **overrides: Any) -> GroupOut:
    body = {"name": unique_name("group"), **overrides}
    group = await handlers.create_group(GroupCreate(**body), actor_id=OPERATOR_ID)
    if members:
        await handlers.add_group_members(
            group.id, MembersRequest(user_ids=list(members)), actor_id=OPERATOR_ID
        )
    return group
