"""Which dependency an exception says is lost: `redis`, `postgres`, or None (a defect).

The app factory (`core.app`) answers such an exception 503 `dependency_unavailable` naming
the dependency, instead of a 500; the workers use the same test to tell an outage from a bug.
A lost dependency is:
- Redis: redis-py's `ConnectionError` (refused, reset, still loading its data) or
  `TimeoutError` (after the client's own retries);
- Postgres: a connection refused or timed out while connecting (asyncpg raises the plain
  `OSError` / `TimeoutError`), a statement on a connection the server dropped (SQLAlchemy marks
  it `connection_invalidated`, and its pool then discards every connection it holds), a
  server shutting down, starting up or crashed, or asyncpg's `command_timeout`;
- either: an open circuit (`core.circuit.Unanswered`), the dependency having failed a moment ago.
"""

from collections.abc import Iterator

import asyncpg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError

from core.circuit import Unanswered

REDIS = "redis"
POSTGRES = "postgres"

_POSTGRES_GONE = (
    asyncpg.exceptions.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.CannotConnectNowError,  # 57P03: starting up, shutting down
    asyncpg.exceptions.AdminShutdownError,  # 57P01
    asyncpg.exceptions.CrashShutdownError,  # 57P02
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.ConnectionFailureError,
    # 53300: the server is at max_connections and refuses a new one: unavailable to this
    # request as much as a server that does not answer.
    asyncpg.exceptions.TooManyConnectionsError,
)
_DRIVER_PACKAGES = ("/asyncpg/", "/sqlalchemy/")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what it wraps (`orig`), its cause and context, without loops."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for inner in (getattr(current, "orig", None), current.__cause__, current.__context__):
            if isinstance(inner, BaseException):
                todo.append(inner)


def _raised_by_the_database_driver(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if any(p in tb.tb_frame.f_code.co_filename for p in _DRIVER_PACKAGES):
            return True
        tb = tb.tb_next
    return False


def lost_dependency(exc: BaseException) -> str | None:
    """`redis` or `postgres` when `exc` means that dependency is not answering, else None."""
    for current in _chain(exc):
        if isinstance(current, Unanswered):
            return current.dependency
        if isinstance(current, RedisConnectionError | RedisTimeoutError):
            return REDIS
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return POSTGRES
        if isinstance(current, _POSTGRES_GONE):
            return POSTGRES
        if isinstance(current, asyncpg.exceptions.InterfaceError) and "connection is closed" in str(
            current
        ):
            return POSTGRES
        if isinstance(current, OSError | TimeoutError) and _raised_by_the_database_driver(current):
            return POSTGRES
    return None


LOST_DEPENDENCY_ERRORS: tuple[type[BaseException], ...] = (
    Unanswered,
    RedisConnectionError,
    RedisTimeoutError,
    DBAPIError,
    asyncpg.exceptions.PostgresError,
    asyncpg.exceptions.InterfaceError,
    OSError,
    TimeoutError,
)
"""The exception types `lost_dependency` may recognise (what the app's handlers listen to)."""
