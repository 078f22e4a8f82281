"""Async engines and sessions: one pooled engine per (database URL, pool size, read-only);
and for a hot path, bare asyncpg connections with statements compiled once (`direct`).

Every engine and direct pool is watched (`PostgresWatchdog`, one per server): a Postgres that
hangs (accepts connections, answers nothing) costs a request about a second, not a statement
timeout.
"""

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import asyncpg
from sqlalchemy import event, make_url
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, PoolProxiedConnection
from sqlalchemy.sql import ClauseElement
from sqlmodel.ext.asyncio.session import AsyncSession

from core.circuit import Circuit
from core.dependencies import POSTGRES, lost_dependency

log = logging.getLogger(__name__)

# The watchdog asks the server `SELECT 1` this often, and calls it hung when the answer (or a
# new connection) takes longer than its patience: a hang is found within PING + PATIENCE.
PING_SECONDS = 0.25
PATIENCE_SECONDS = 0.75
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
    engine = create_async_engine(
        url,
        poolclass=WatchedPool,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        connect_args={
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "command_timeout": 60 if read_only else COMMAND_TIMEOUT_SECONDS,
            "server_settings": server_settings,
        },
    )
    PostgresWatchdog.of(asyncpg_dsn(url)).watch(engine)
    return engine


@lru_cache
def get_sessionmaker(url: str) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(get_engine(url), class_=AsyncSession, expire_on_commit=False)


def asyncpg_dsn(url: str) -> str:
    """The plain DSN asyncpg.connect() takes, from an SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


class WatchedPool(AsyncAdaptedQueuePool):
    """Refuses a checkout at once (`core.circuit.Unanswered`, a 503 naming postgres) while
    its server's watchdog finds it hung or down, before touching any pooled connection."""

    circuit: Circuit | None = None

    def connect(self) -> PoolProxiedConnection:
        if self.circuit is not None:
            self.circuit.check()
        return super().connect()


class PostgresWatchdog:
    """Tells a Postgres that hangs from one that is busy: a thread of its own (so a busy event
    loop never makes the server look slow) asks it `SELECT 1` every `PING_SECONDS`. Unanswered
    within `PATIENCE_SECONDS` (or refused), the server is hung or down:
    - its circuit opens: the watched pools refuse checkouts at once (`WatchedPool`);
    - the connections the event loop is using are terminated (closed without a word to the
      server), so the statements waiting on them fail now, as on a dropped connection,
      instead of at their `command_timeout`.
    The first answer closes the circuit again. A slow statement on a server that answers is
    never cut short. Each outage is counted (`outages`): a pooled connection opened before the
    latest one is not handed out again (a restarted server dropped it), so the first request
    after a restart, however late, gets a new connection instead of a 503.
    """

    _servers: dict[str, "PostgresWatchdog"] = {}
    _lock = threading.Lock()

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.circuit = Circuit(POSTGRES, open_seconds=PING_SECONDS + PATIENCE_SECONDS + 1)
        self.in_use: set[asyncpg.Connection] = set()
        self.outages = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def of(cls, dsn: str) -> "PostgresWatchdog":
        """The watchdog of the server (host and port) `dsn` names."""
        url = make_url(dsn)
        server = f"{url.host}:{url.port}"
        with cls._lock:
            return cls._servers.setdefault(server, cls(dsn))

    def watch(self, engine: AsyncEngine) -> None:
        pool = engine.sync_engine.pool
        assert isinstance(pool, WatchedPool)
        pool.circuit = self.circuit

        @event.listens_for(pool, "connect")
        def _connected(_dbapi_connection, record) -> None:
            record.info["outages"] = self.outages

        @event.listens_for(pool, "checkout")
        def _checked_out(dbapi_connection, record, _proxy) -> None:
            if record.info.get("outages") != self.outages:
                # The pool discards it and checks out another (SQLAlchemy's disconnect handling).
                raise DisconnectionError("opened before the server's latest outage")
            self.in_use.add(dbapi_connection._connection)
            if self._thread is None:
                self._start(asyncio.get_running_loop())

        @event.listens_for(pool, "checkin")
        @event.listens_for(pool, "close")
        def _given_back(dbapi_connection, _record) -> None:
            if dbapi_connection is not None:
                self.in_use.discard(dbapi_connection._connection)

    @contextlib.contextmanager
    def watching(self, connection: asyncpg.Connection):
        """A direct connection in use: cut off like the engines' ones when the server hangs."""
        if self._thread is None:
            self._start(asyncio.get_running_loop())
        self.in_use.add(connection)
        try:
            yield
        finally:
            self.in_use.discard(connection)

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._ping_forever()), name="postgres-watchdog", daemon=True
        )
        self._thread.start()

    async def _ping_forever(self) -> None:
        connection: asyncpg.Connection | None = None
        while True:
            try:
                if connection is None:
                    connection = await asyncpg.connect(self.dsn, timeout=PATIENCE_SECONDS)
                await connection.fetchval("SELECT 1", timeout=PATIENCE_SECONDS)
            except Exception as exc:
                dropped = connection is not None and not isinstance(exc, TimeoutError)
                if connection is not None:
                    connection.terminate()
                    connection = None
                if dropped:
                    # The server dropped the connection (a restart, maybe over already): the
                    # pooled ones went with it; ask again at once on a new one before calling
                    # the server hung or down.
                    self.outages += 1
                    continue
                self._unanswered(exc)
            else:
                if self.circuit.is_open:
                    log.info("postgres answers again", extra={"dependency": POSTGRES})
                self.circuit.close()
            await asyncio.sleep(PING_SECONDS)

    def _unanswered(self, exc: Exception) -> None:
        first = not self.circuit.is_open
        self.circuit.open()
        if first:
            self.outages += 1
            log.warning(
                "postgres did not answer within %.2fs (%r): refusing checkouts and cutting off "
                "the statements waiting on it",
                PATIENCE_SECONDS,
                exc,
                extra={"dependency": POSTGRES},
            )
            assert self.loop is not None
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to cut off
                self.loop.call_soon_threadsafe(self._cut_off)

    def _cut_off(self) -> None:
        for connection in list(self.in_use):
            connection.terminate()
        self.in_use.clear()


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
_outages_seen: dict[asyncpg.Pool, int] = {}


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


@lru_cache
def _watchdog_of(url: str) -> PostgresWatchdog:
    """`url`'s server's watchdog, looked up once (not parsed again on every statement)."""
    return PostgresWatchdog.of(asyncpg_dsn(url))


@contextlib.asynccontextmanager
async def direct(url: str) -> AsyncIterator[asyncpg.Connection]:
    """A bare asyncpg connection in autocommit: each statement is a transaction of its own,
    one round trip (its prepared statement is cached per connection). For a hot path whose
    every change is one statement; a lost database makes the pool replace every connection
    it holds, as the engines' pools do."""
    pool = _direct_pool(url)
    watchdog = _watchdog_of(url)
    watchdog.circuit.check()
    await pool  # a pool without connections to open first is ready at once, never waits
    if _outages_seen.setdefault(pool, watchdog.outages) != watchdog.outages:
        await pool.expire_connections()  # opened before the latest outage: open new ones
        _outages_seen[pool] = watchdog.outages
    try:
        async with pool.acquire() as connection:
            with watchdog.watching(connection):
                yield connection
    except Exception as exc:
        if lost_dependency(exc) == POSTGRES:
            await pool.expire_connections()
        raise
