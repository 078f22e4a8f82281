"""What a handler needs to run: the loyalty database, Redis and the settings."""

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import async_sessionmaker

from core.config import Settings, get_settings
from core.db import get_sessionmaker
from core.outbox import UnitOfWork
from core.redis import get_redis
from loyalty.models import outbox


@dataclass(frozen=True)
class Context:
    sessionmaker: async_sessionmaker
    redis: Redis
    settings: Settings

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessionmaker, outbox)


@lru_cache
def default_context() -> Context:
    """The process-wide context built from the settings (what command_api and admin use)."""
    settings = get_settings()
    return Context(
        sessionmaker=get_sessionmaker(settings.loyalty_database_url),
        redis=get_redis(settings.redis_url),
        settings=settings,
    )


def utcnow() -> datetime:
    return datetime.now(UTC)
