"""Login rate limit: failed logins counted per email and per client address (`core.ratelimit`).

Once either count reaches its limit within `login_window_seconds`, logins for that email (or
from that address) get 429 until enough failures leave the window. Emails are hashed in the
keys so Redis never holds one. When Redis does not answer, login fails rather than letting
unlimited password guesses through.
"""

import hashlib

from redis.asyncio import Redis

from auth.config import AuthSettings
from auth.errors import TooManyFailedLogins
from core.ratelimit import SlidingWindowLimiter

EMAIL_KEYS = "auth:failed_logins:email"
ADDRESS_KEYS = "auth:failed_logins:address"


def email_subject(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()


class LoginLimiter:
    def __init__(self, redis: Redis, settings: AuthSettings) -> None:
        window = settings.login_window_seconds
        self.by_email = SlidingWindowLimiter(
            redis, EMAIL_KEYS, settings.login_failures_per_email, window, fail_open=False
        )
        self.by_address = SlidingWindowLimiter(
            redis, ADDRESS_KEYS, settings.login_failures_per_address, window, fail_open=False
        )

    def _counts(self, email: str, address: str) -> list[tuple[SlidingWindowLimiter, str]]:
        return [(self.by_email, email_subject(email)), (self.by_address, address)]

    async def ensure_allowed(self, email: str, address: str) -> None:
        """Raises 429 with `Retry-After` when either count is at its limit."""
        for limiter, subject in self._counts(email, address):
            retry_after = await limiter.retry_after(subject)
            if retry_after is not None:
                raise TooManyFailedLogins(retry_after)

    async def record_failure(self, email: str, address: str) -> None:
        for limiter, subject in self._counts(email, address):
            await limiter.note_failure(subject)

    async def forget_failures(self, email: str) -> None:
        await self.by_email.reset(email_subject(email))
