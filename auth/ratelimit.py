"""Login and registration limits (`core.ratelimit` sliding windows in Redis).

Logins (docs/security.md), failures counted three ways within `login_window_seconds`:
- per (email, address) pair: at `login_failures_per_email_and_address` that address is locked
  out of that account (429) until the window lets it in; other addresses are not;
- per address, whatever the emails: at `login_failures_per_address` the address is locked out
  (password spraying);
- per email, whatever the addresses: from `login_backoff_after_failures_per_email` failures on,
  each attempt waits a short exponential backoff after the latest one (`rules.
  login_backoff_seconds`), so guessing one account from many addresses is slowed while its
  owner waits seconds at most.
A successful login forgets its pair's and its email's failures. When Redis does not answer,
login fails rather than letting unlimited password guesses through.

Registrations: every attempt with an acceptable password (account created, or email found
taken) counts for its address; at `registrations_per_address` within
`registration_window_seconds` the address gets 429. Fail-open: Redis away does not stop
sign-ups.

Emails are hashed in the keys so Redis never holds one.
"""

import hashlib
import math

from redis.asyncio import Redis

from auth import rules
from auth.errors import TooManyFailedLogins, TooManyRegistrations
from core.config import Settings
from core.ratelimit import SlidingWindowLimiter

EMAIL_KEYS = "auth:failed_logins:email"
PAIR_KEYS = "auth:failed_logins:email_address"
ADDRESS_KEYS = "auth:failed_logins:address"
REGISTRATION_KEYS = "auth:registrations:address"


def email_subject(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()


def pair_subject(email: str, address: str) -> str:
    return f"{email_subject(email)}:{address}"


class LoginLimiter:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        window = settings.login_window_seconds
        self.settings = settings
        self.by_pair = SlidingWindowLimiter(
            redis, PAIR_KEYS, settings.login_failures_per_email_and_address, window, fail_open=False
        )
        self.by_address = SlidingWindowLimiter(
            redis, ADDRESS_KEYS, settings.login_failures_per_address, window, fail_open=False
        )
        self.by_email = SlidingWindowLimiter(
            redis,
            EMAIL_KEYS,
            settings.login_backoff_after_failures_per_email,
            window,
            fail_open=False,
        )

    async def ensure_allowed(self, email: str, address: str) -> None:
        """Raises 429 with `Retry-After` when this address is locked out of this account or
        altogether, or while the email's backoff runs."""
        for limiter, subject in (
            (self.by_pair, pair_subject(email, address)),
            (self.by_address, address),
        ):
            retry_after = await limiter.retry_after(subject)
            if retry_after is not None:
                raise TooManyFailedLogins(retry_after)
        failures, latest = await self.by_email.recent(email_subject(email))
        backoff = rules.login_backoff_seconds(
            failures,
            self.settings.login_backoff_after_failures_per_email,
            self.settings.login_backoff_max_seconds,
        )
        if backoff and latest is not None:
            remaining = latest + backoff - self.by_email.clock()
            if remaining > 0:
                raise TooManyFailedLogins(max(math.ceil(remaining), 1))

    async def record_failure(self, email: str, address: str) -> None:
        await self.by_pair.note_failure(pair_subject(email, address))
        await self.by_address.note_failure(address)
        await self.by_email.note_failure(email_subject(email))

    async def forget_failures(self, email: str, address: str) -> None:
        await self.by_pair.reset(pair_subject(email, address))
        await self.by_email.reset(email_subject(email))


class RegistrationLimiter:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.by_address = SlidingWindowLimiter(
            redis,
            REGISTRATION_KEYS,
            settings.registrations_per_address,
            settings.registration_window_seconds,
        )

    async def count(self, address: str) -> None:
        """Counts this registration, or raises 429 with `Retry-After` when the address has
        registered its share of the window already."""
        retry_after = await self.by_address.retry_after(address)
        if retry_after is not None:
            raise TooManyRegistrations(retry_after)
        await self.by_address.note_failure(address)
