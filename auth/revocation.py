"""Writes to the denylist that `core.security.verify_access_token` reads on every service.

Each entry expires when the tokens it covers would have expired anyway.
"""

import math
import time
import uuid

from redis.asyncio import Redis

from core.config import Settings
from core.security import revoked_jti_key, revoked_user_key


async def revoke_access_token(redis: Redis, jti: str, expires_at: float) -> None:
    """One access token (logout): refused until it would have expired."""
    remaining = max(math.ceil(expires_at - time.time()), 1)
    await redis.set(revoked_jti_key(jti), 1, ex=remaining)


async def revoke_all_access_tokens(redis: Redis, user_id: uuid.UUID, settings: Settings) -> None:
    """Every access token of the user issued up to now (block, delete, refresh-token reuse)."""
    await redis.set(
        revoked_user_key(user_id), repr(time.time()), ex=settings.access_token_ttl_seconds + 1
    )
