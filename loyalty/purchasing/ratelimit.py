"""Failed promo-code attempts per user over a rolling minute (Redis sorted set).

Each rejection adds a member scored by its time; a user with `limit` failures in the last
60 seconds is refused until the oldest one leaves the window. The refusals themselves are not
counted, so `Retry-After` tells the truth. When Redis does not answer the limiter lets the
call through (the attempts are still logged in Postgres) rather than failing every quote.
"""

import logging
import time
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60


def _key(user_id: uuid.UUID) -> str:
    return f"ratelimit:failed_attempts:{user_id}"


async def retry_after(redis: Redis, user_id: uuid.UUID, limit: int) -> int | None:
    """Seconds until the user may try again, or None when they are under the limit."""
    now = time.time()
    key = _key(user_id)
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, "-inf", now - WINDOW_SECONDS)
            pipe.zcard(key)
            pipe.zrange(key, 0, 0, withscores=True)
            _, count, oldest = await pipe.execute()
    except RedisError:
        log.warning("rate limiter unavailable; letting the attempt through", exc_info=True)
        return None
    if count < limit:
        return None
    oldest_at = oldest[0][1] if oldest else now
    return max(int(oldest_at + WINDOW_SECONDS - now) + 1, 1)


async def note_failure(redis: Redis, user_id: uuid.UUID) -> None:
    now = time.time()
    key = _key(user_id)
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {uuid.uuid4().hex: now})
            pipe.expire(key, WINDOW_SECONDS + 1)
            await pipe.execute()
    except RedisError:
        log.warning("rate limiter unavailable; failure not counted", exc_info=True)
