"""Login rate limit: failed attempts counted per email and per client address in Redis.

Fixed windows: the first failure starts a window of `login_window_seconds`; once a counter
reaches its limit, logins for that email (or from that address) get 429 until the window
ends. Emails are hashed in the keys so Redis never holds one.
"""

import hashlib
from dataclasses import dataclass

from redis.asyncio import Redis

from auth.config import AuthSettings
from core.errors import TooManyAttempts


def email_key(email: str) -> str:
    return f"auth:login_failures:email:{hashlib.sha256(email.encode()).hexdigest()}"


def address_key(address: str) -> str:
    return f"auth:login_failures:address:{address}"


@dataclass(frozen=True)
class LoginLimiter:
    redis: Redis
    settings: AuthSettings

    def _limits(self, email: str, address: str) -> list[tuple[str, int]]:
        return [
            (email_key(email), self.settings.login_failures_per_email),
            (address_key(address), self.settings.login_failures_per_address),
        ]

    async def ensure_allowed(self, email: str, address: str) -> None:
        """Raises 429 with `Retry-After` when either counter is at its limit."""
        limits = self._limits(email, address)
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, _ in limits:
                pipe.get(key)
                pipe.ttl(key)
            replies = await pipe.execute()
        for index, (_, limit) in enumerate(limits):
            count, ttl = replies[2 * index], replies[2 * index + 1]
            if count is not None and int(count) >= limit:
                retry_after = max(int(ttl), 1)
                raise TooManyAttempts(retry_after, "Too many failed logins; try again later")

    async def record_failure(self, email: str, address: str) -> None:
        window = self.settings.login_window_seconds
        async with self.redis.pipeline(transaction=True) as pipe:
            for key, _ in self._limits(email, address):
                pipe.incr(key)
                pipe.expire(key, window, nx=True)
            await pipe.execute()

    async def forget_failures(self, email: str) -> None:
        await self.redis.delete(email_key(email))
