"""Which dependency an exception names: the 503 mapping of core.app and the workers' outages."""

import asyncpg
import pytest
from redis.exceptions import BusyLoadingError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, IntegrityError

from core.dependencies import lost_dependency


def wrapped(inner: Exception, *, invalidated: bool) -> DBAPIError:
    return DBAPIError("SELECT 1", None, inner, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "exc",
    [RedisConnectionError("refused"), RedisTimeoutError("slow"), BusyLoadingError("loading")],
)
def test_redis_connection_errors_name_redis(exc):
    assert lost_dependency(exc) == "redis"


@pytest.mark.parametrize(
    "exc",
    [
        wrapped(Exception("connection is closed"), invalidated=True),
        wrapped(asyncpg.exceptions.CannotConnectNowError("starting up"), invalidated=False),
        wrapped(asyncpg.exceptions.AdminShutdownError("shutdown"), invalidated=False),
        asyncpg.exceptions.ConnectionDoesNotExistError("gone"),
        wrapped(asyncpg.exceptions.TooManyConnectionsError("too many clients"), invalidated=False),
    ],
)
def test_postgres_connection_errors_name_postgres(exc):
    assert lost_dependency(exc) == "postgres"


def test_a_redis_error_behind_another_exception_is_found():
    try:
        try:
            raise RedisConnectionError("refused")
        except RedisConnectionError as inner:
            raise RuntimeError("while checking the token") from inner
    except RuntimeError as outer:
        assert lost_dependency(outer) == "redis"


def test_a_refused_connection_counts_for_postgres_only_when_the_driver_raised_it():
    assert lost_dependency(ConnectionRefusedError("refused")) is None
    assert lost_dependency(TimeoutError()) is None


@pytest.mark.parametrize(
    "exc",
    [
        IntegrityError("INSERT", None, Exception("duplicate key")),
        wrapped(Exception("syntax error"), invalidated=False),
        ValueError("a bug"),
        KeyError("a bug"),
    ],
)
def test_defects_name_no_dependency(exc):
    assert lost_dependency(exc) is None
