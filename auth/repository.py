"""All SQL of the auth service."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.models import RefreshToken, User


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()


async def user_by_id(session: AsyncSession, user_id: uuid.UUID, *, for_update=False) -> User | None:
    statement = select(User).where(User.id == user_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def users_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[User]:
    return list((await session.execute(select(User).where(User.id.in_(ids)))).scalars())


async def spend_refresh_token(
    session: AsyncSession, token_hash: str, now: datetime
) -> RefreshToken | None:
    """Marks a live token spent and returns it; None when it is unknown, spent, revoked or
    expired. One conditional UPDATE, so two concurrent refreshes cannot both win."""
    statement = (
        update(RefreshToken)
        .where(
            RefreshToken.token_hash == token_hash,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(RefreshToken)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def refresh_token_by_hash(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    statement = select(RefreshToken).where(RefreshToken.token_hash == token_hash)
    return (await session.execute(statement)).scalar_one_or_none()


async def revoke_family(session: AsyncSession, family_id: uuid.UUID, now: datetime) -> None:
    table = RefreshToken.__table__
    await session.execute(
        update(table)
        .where(table.c.family_id == family_id, table.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_user_refresh_tokens(
    session: AsyncSession, user_id: uuid.UUID, now: datetime
) -> None:
    table = RefreshToken.__table__
    await session.execute(
        update(table)
        .where(table.c.user_id == user_id, table.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
