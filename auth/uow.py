"""The auth unit of work: one transaction on the auth database, its repositories and outbox."""

from typing import Self

from auth.models import outbox
from auth.repository import RefreshTokenRepository, UserRepository
from core.config import get_settings
from core.db import get_sessionmaker
from core.outbox import UnitOfWork


class AuthUnitOfWork(UnitOfWork):
    """`async with auth_uow() as uow:` then `uow.users`, `uow.refresh_tokens`, `uow.emit(...)`,
    `uow.commit()`. Leaving the block without commit rolls back."""

    users: UserRepository
    refresh_tokens: RefreshTokenRepository

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.users = UserRepository(self.session)
        self.refresh_tokens = RefreshTokenRepository(self.session)
        return self

    def detach_all(self) -> None:
        """Keeps what was read usable after the block, which rolls back (and so would expire
        it) when left without commit."""
        self.session.expunge_all()


def auth_uow() -> AuthUnitOfWork:
    return AuthUnitOfWork(get_sessionmaker(get_settings().auth_database_url), outbox)
