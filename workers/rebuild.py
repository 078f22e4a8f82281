"""`python -m workers rebuild`: rebuilds every read model from Postgres, then exits."""

import logging

from core.config import get_settings
from core.logging import setup_logging
from core.redis import make_redis
from loyalty.read.postgres import read_only_engine
from loyalty.read.rebuild import ensure_built

log = logging.getLogger("workers.rebuild")


async def rebuild() -> None:
    settings = get_settings()
    setup_logging(settings, "workers")
    redis = make_redis(settings.redis_url)
    engine = read_only_engine(settings.loyalty_database_url)
    try:
        await ensure_built(redis, engine, force=True)
        log.info("read models rebuilt")
    finally:
        await redis.aclose()
        await engine.dispose()
