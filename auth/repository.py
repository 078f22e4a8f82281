"""All SQL of the auth service: one repository per table, used through `AuthUnitOfWork`."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth.errors import EmailTaken
from auth.models import RefreshToken, User

# Revocations are Core statements on the table: they leave the session's objects as they are.
tokens = RefreshToken.__table__


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def by_email(self, email: str) -> User | None:
        statement = select(User).where(User.email == email)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def by_id(self, user_id: uuid.UUID, *, for_update: bool = False) -> User | None:
        statement = select(User).where(User.id == user_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def by_ids(self, ids: Sequence[uuid.UUID]) -> list[User]:
        statement = select(User).where(User.id.in_(ids))
        return list((await self._session.execute(statement)).scalars())

    async def add(self, user: User) -> User:
        """Inserts the account at once, so a taken email is known before anything else is
        written: `EmailTaken`."""
        self._session.add(user)
        try:
            await self._session.flush()
        except IntegrityError as exc:
            raise EmailTaken() from exc
        return user


class RefreshTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, token: RefreshToken) -> None:
        """Written with the rest of the transaction at commit."""
        self._session.add(token)

    async def by_hash(self, token_hash: str) -> RefreshToken | None:
        statement = select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def reload(self, token: RefreshToken) -> RefreshToken:
        """The token as the database has it now (another transaction may have spent it)."""
        await self._session.refresh(token)
        return token

    async def spend(self, token_hash: str, now: datetime) -> RefreshToken | None:
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
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def revoke_family(self, family_id: uuid.UUID, now: datetime) -> None:
        await self._revoke(tokens.c.family_id == family_id, now)

    async def revoke_all_of_user(self, user_id: uuid.UUID, now: datetime) -> None:
        await self._revoke(tokens.c.user_id == user_id, now)

    async def _revoke(self, which: ColumnElement[bool], now: datetime) -> None:
        """Revokes the tokens `which` selects that are not revoked yet."""
        await self._session.execute(
            update(tokens).where(which, tokens.c.revoked_at.is_(None)).values(revoked_at=now)
        )
