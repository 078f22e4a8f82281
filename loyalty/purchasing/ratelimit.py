"""Failed promo-code attempts per user over a rolling minute (`core.ratelimit`, Redis sorted set).

A user with `limit` failures in the last 60 seconds is refused until one leaves the window.
The refusals themselves are not counted, so `Retry-After` tells the truth. When Redis does not
answer the limiter lets the call through (the attempts are still logged in Postgres) rather
than failing every quote.
"""

import uuid

from redis.asyncio import Redis

from core.config import get_settings
from core.ratelimit import SlidingWindowLimiter

WINDOW_SECONDS = 60
KEYS = "ratelimit:failed_attempts"


def _limiter(redis: Redis, limit: int) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(redis, KEYS, limit, WINDOW_SECONDS)


async def retry_after(redis: Redis, user_id: uuid.UUID, limit: int) -> int | None:
    """Seconds until the user may try again, or None when they are under the limit."""
    return await _limiter(redis, limit).retry_after(str(user_id))


async def note_failure(redis: Redis, user_id: uuid.UUID) -> None:
    # Counting a failure does not use the limit; the configured one is passed to build the limiter.
    limiter = _limiter(redis, get_settings().failed_attempts_per_minute)
    await limiter.note_failure(str(user_id))
