"""Async engines and sessions: one pooled engine per (database URL, pool size, read-only)."""

from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession


@lru_cache
def get_engine(url: str, *, pool_size: int = 10, read_only: bool = False) -> AsyncEngine:
    """`read_only` engines run every transaction read only (`default_transaction_read_only`),
    so nothing on the read side can write to Postgres."""
    server_settings = {"default_transaction_read_only": "on"} if read_only else {}
    # No ping before each checkout (a round trip per transaction): a connection Postgres
    # dropped fails its statement, and that disconnect makes the pool discard every
    # connection it holds, so a restart of the database costs the requests in flight then,
    # never a restart of the process.
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        connect_args={
            "timeout": 5,
            "command_timeout": 60 if read_only else 30,
            "server_settings": server_settings,
        },
    )


@lru_cache
def get_sessionmaker(url: str) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(get_engine(url), class_=AsyncSession, expire_on_commit=False)


def asyncpg_dsn(url: str) -> str:
    """The plain DSN asyncpg.connect() takes, from an SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)
