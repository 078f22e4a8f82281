"""Async engines and sessions: one pooled engine per (database URL, pool size, read-only);
and for a hot path, bare asyncpg connections with statements compiled once (`direct`)."""

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.sql import ClauseElement
from sqlmodel.ext.asyncio.session import AsyncSession

from core.dependencies import POSTGRES, lost_dependency

CONNECT_TIMEOUT_SECONDS = 5
COMMAND_TIMEOUT_SECONDS = 30
# As many as the engine's pool at its peak (10 + 10): a use waiting for a hot code's row holds
# its connection, and a quote behind it needs one too (the mixed load in two alternating
# rounds: 260 and 186 req/s with 10, 290 and 317 with 20; quotes' p95 830-1,300 -> 550-580 ms).
DIRECT_POOL_SIZE = 20


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
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "command_timeout": 60 if read_only else COMMAND_TIMEOUT_SECONDS,
            "server_settings": server_settings,
        },
    )


@lru_cache
def get_sessionmaker(url: str) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(get_engine(url), class_=AsyncSession, expire_on_commit=False)


def asyncpg_dsn(url: str) -> str:
    """The plain DSN asyncpg.connect() takes, from an SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


# ---- direct: a bare asyncpg connection, each statement its own transaction -------------------


@dataclass(frozen=True)
class Compiled:
    """A statement compiled once for asyncpg: its SQL with `$n` placeholders and the names
    of its parameters in that order (with the values the statement itself binds)."""

    sql: str
    names: tuple[str, ...]
    bound: Mapping[str, Any]

    @classmethod
    def of(cls, statement: ClauseElement) -> "Compiled":
        compiled = statement.compile(dialect=asyncpg_dialect.dialect())
        return cls(compiled.string, tuple(compiled.positiontup or ()), dict(compiled.params))

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        return [values[name] if name in values else self.bound[name] for name in self.names]


async def _keep_as_is(_: asyncpg.Connection) -> None:
    """What a direct connection gets when it goes back to its pool (asyncpg's own reset rolls
    back a transaction left open first). Nothing else: direct statements leave no session
    state (no SET, LISTEN, cursor or lock), and asyncpg's default reset is a round trip."""


_direct_pools: dict[tuple[str, asyncio.AbstractEventLoop], asyncpg.Pool] = {}


def _direct_pool(url: str) -> asyncpg.Pool:
    """This event loop's pool for `url` (asyncpg pools belong to the loop that made them);
    connections are opened when needed, up to `DIRECT_POOL_SIZE`."""
    key = (url, asyncio.get_running_loop())
    pool = _direct_pools.get(key)
    if pool is None:
        pool = _direct_pools[key] = asyncpg.create_pool(
            asyncpg_dsn(url),
            min_size=0,
            max_size=DIRECT_POOL_SIZE,
            reset=_keep_as_is,
            timeout=CONNECT_TIMEOUT_SECONDS,
            command_timeout=COMMAND_TIMEOUT_SECONDS,
        )
    return pool


@asynccontextmanager
async def direct(url: str) -> AsyncIterator[asyncpg.Connection]:
    """A bare asyncpg connection in autocommit: each statement is a transaction of its own,
    one round trip (its prepared statement is cached per connection). For a hot path whose
    every change is one statement; a lost database makes the pool replace every connection
    it holds, as the engines' pools do."""
    pool = _direct_pool(url)
    await pool  # a pool without connections to open first is ready at once, never waits
    try:
        async with pool.acquire() as connection:
            yield connection
    except Exception as exc:
        if lost_dependency(exc) == POSTGRES:
            await pool.expire_connections()
        raise
