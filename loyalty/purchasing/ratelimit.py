"""Failed promo-code attempts over a rolling minute (`core.ratelimit`, Redis sorted sets).

Two limits, each refusing with 429 `too_many_attempts` until enough failures leave the window:
- per user: any rejection counts (`FAILED_ATTEMPTS_PER_MINUTE`);
- per client address: only wrong codes count, the codes a guesser tries
  (`FAILED_ATTEMPTS_PER_ADDRESS_PER_MINUTE`), so guessing from one address with many accounts
  is slowed, while buyers behind one address who reach a used-up code are not.
The refusals themselves are not counted, so `Retry-After` tells the truth. When Redis does not
answer the limiters let the call through (the attempts are still logged in Postgres) rather
than failing every quote.
"""

import uuid

from redis.asyncio import Redis

from core.config import Settings
from core.errors import AppError
from core.ratelimit import SlidingWindowLimiter, longest_wait
from loyalty.domain import errors

WINDOW_SECONDS = 60
KEYS = "ratelimit:failed_attempts"
ADDRESS_KEYS = "ratelimit:wrong_codes_by_address"
# What the buyer is told is "no such code": the guesses.
WRONG_CODES: frozenset[type[AppError]] = frozenset(
    {errors.PromocodeNotFound, errors.PromocodeMistyped, errors.PromocodeNotAssigned}
)


def _per_user(redis: Redis, settings: Settings) -> SlidingWindowLimiter:
    return SlidingWindowLimiter(redis, KEYS, settings.failed_attempts_per_minute, WINDOW_SECONDS)


def _per_address(redis: Redis, settings: Settings) -> SlidingWindowLimiter:
    limit = settings.failed_attempts_per_address_per_minute
    return SlidingWindowLimiter(redis, ADDRESS_KEYS, limit, WINDOW_SECONDS)


async def retry_after(
    redis: Redis, settings: Settings, user_id: uuid.UUID, address: str | None
) -> int | None:
    """Seconds until this user, from this address, may try again; None when under both limits
    (one round trip). `address` None: a call from no client (the admin's own)."""
    checks = [(_per_user(redis, settings), str(user_id))]
    if address is not None:
        checks.append((_per_address(redis, settings), address))
    return await longest_wait(checks)


async def note_failure(
    redis: Redis,
    settings: Settings,
    user_id: uuid.UUID,
    address: str | None,
    reason: type[AppError],
) -> None:
    await _per_user(redis, settings).note_failure(str(user_id))
    if address is not None and reason in WRONG_CODES:
        await _per_address(redis, settings).note_failure(address)
