"""Async engines and sessions. One engine per database URL per process."""

from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession


@lru_cache
def get_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    # pool_pre_ping replaces connections Postgres dropped, so a restart of the database
    # costs failed requests only while it is down, never a restart of the process.
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"timeout": 5, "command_timeout": 30},
    )


@lru_cache
def get_sessionmaker(url: str) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(get_engine(url), class_=AsyncSession, expire_on_commit=False)


def asyncpg_dsn(url: str) -> str:
    """The plain DSN asyncpg.connect() takes, from an SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)
