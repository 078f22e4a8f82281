"""Async engines and sessions: one pooled engine per (database URL, pool size, read-only).

Every engine is watched (`PostgresWatchdog`, one per server): a Postgres that hangs (accepts
connections, answers nothing) costs a request about a second, not a statement timeout.
"""

import asyncio
import contextlib
import logging
import threading
from functools import lru_cache

import asyncpg
from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, PoolProxiedConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from core.circuit import Circuit
from core.dependencies import POSTGRES

log = logging.getLogger(__name__)

# The watchdog asks the server `SELECT 1` this often, and calls it hung when the answer (or a
# new connection) takes longer than its patience: a hang is found within PING + PATIENCE.
PING_SECONDS = 0.25
PATIENCE_SECONDS = 0.75


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
            "timeout": 5,
            "command_timeout": 60 if read_only else 30,
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
    never cut short.
    """

    _servers: dict[str, "PostgresWatchdog"] = {}
    _lock = threading.Lock()

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.circuit = Circuit(POSTGRES, open_seconds=PING_SECONDS + PATIENCE_SECONDS + 1)
        self.in_use: set[asyncpg.Connection] = set()
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

        @event.listens_for(pool, "checkout")
        def _checked_out(dbapi_connection, _record, _proxy) -> None:
            self.in_use.add(dbapi_connection._connection)
            if self._thread is None:
                self._start(asyncio.get_running_loop())

        @event.listens_for(pool, "checkin")
        @event.listens_for(pool, "close")
        def _given_back(dbapi_connection, _record) -> None:
            if dbapi_connection is not None:
                self.in_use.discard(dbapi_connection._connection)

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
                if connection is not None:
                    connection.terminate()
                    connection = None
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
