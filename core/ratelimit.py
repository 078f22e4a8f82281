"""Failures per subject over a sliding window, counted in a Redis sorted set.

Each failure adds a member scored by its time under `<name>:<subject>`; a subject with `limit`
failures in the last `window_seconds` is refused until enough of them leave the window.
Callers note real failures only, never the refusals, so `Retry-After` tells the truth.

When Redis does not answer, a fail-open limiter logs a warning and lets the call through
(nothing is counted); a fail-closed one lets the Redis error propagate.
"""

import logging
import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


@dataclass(eq=False)
class SlidingWindowLimiter:
    """`limit` failures of a subject within `window_seconds` and it is refused; keys are
    `<name>:<subject>`. `clock` gives the time (tests pass their own)."""

    redis: Redis
    name: str
    limit: int
    window_seconds: int
    _: KW_ONLY
    fail_open: bool = True
    clock: Callable[[], float] = time.time

    def key(self, subject: str) -> str:
        return f"{self.name}:{subject}"

    def in_window(self, now: float) -> str:
        """The lowest score of a failure in the window (ZCOUNT's `min`): newer than its start."""
        return f"({now - self.window_seconds}"

    async def retry_after(self, subject: str) -> int | None:
        """Seconds until the subject may try again, or None when it is under the limit."""
        now = self.clock()
        key = self.key(subject)
        in_window = self.in_window(now)
        try:
            # Read only, one command: the check runs before every attempt (a buyer's use
            # included), and a subject with no failures has no key at all.
            count = await self.redis.zcount(key, in_window, "+inf")
            if count < self.limit:
                return None
            # The failure whose leaving brings the count under the limit.
            deciding = await self.redis.zrevrangebyscore(
                key, "+inf", in_window, start=self.limit - 1, num=1, withscores=True
            )
        except RedisError:
            if not self.fail_open:
                raise
            self._warn("letting the attempt through")
            return None
        deciding_at = deciding[0][1] if deciding else now
        return max(math.ceil(deciding_at + self.window_seconds - now), 1)

    async def recent(self, subject: str) -> tuple[int, float | None]:
        """(failures in the window, the time of the latest one or None); (0, None) when a
        fail-open limiter cannot reach Redis."""
        now = self.clock()
        key = self.key(subject)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(key, "-inf", now - self.window_seconds)
                pipe.zcard(key)
                pipe.zrange(key, -1, -1, withscores=True)
                _, count, latest = await pipe.execute()
        except RedisError:
            if not self.fail_open:
                raise
            self._warn("letting the attempt through")
            return 0, None
        return count, (latest[0][1] if latest else None)

    async def note_failure(self, subject: str) -> None:
        now = self.clock()
        key = self.key(subject)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zadd(key, {uuid.uuid4().hex: now})
                pipe.expire(key, self.window_seconds + 1)
                await pipe.execute()
        except RedisError:
            if not self.fail_open:
                raise
            self._warn("failure not counted")

    async def reset(self, subject: str) -> None:
        """Forgets the subject's failures."""
        try:
            await self.redis.delete(self.key(subject))
        except RedisError:
            if not self.fail_open:
                raise
            self._warn("failures not reset")

    def _warn(self, consequence: str) -> None:
        log.warning("rate limiter %s unavailable; %s", self.name, consequence, exc_info=True)


async def longest_wait(checks: Sequence[tuple[SlidingWindowLimiter, str]]) -> int | None:
    """The longest wait among several (limiter, subject) checks on one Redis, None when every
    subject is under its limit: the counts are read in one round trip, and only a subject at
    its limit is looked at further. Fail-open limiters only."""
    first = checks[0][0]
    try:
        async with first.redis.pipeline(transaction=False) as pipe:
            now = first.clock()
            for limiter, subject in checks:
                pipe.zcount(limiter.key(subject), limiter.in_window(now), "+inf")
            counts = await pipe.execute()
    except RedisError:
        first._warn("letting the attempt through")
        return None
    waits = [
        await limiter.retry_after(subject)
        for (limiter, subject), count in zip(checks, counts, strict=True)
        if count >= limiter.limit
    ]
    return max((wait for wait in waits if wait is not None), default=None)
