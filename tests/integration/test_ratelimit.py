"""The shared sliding-window limiter against real Redis; time moves by a clock we hold."""

import logging
import uuid

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from auth.ratelimit import LoginLimiter
from core.config import Settings
from core.ratelimit import SlidingWindowLimiter

WINDOW = 60


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def limiter(redis, clock: Clock, limit: int = 3, **options) -> SlidingWindowLimiter:
    name = f"test:ratelimit:{uuid.uuid4().hex}"
    return SlidingWindowLimiter(redis, name, limit, WINDOW, clock=clock, **options)


async def test_a_subject_at_the_limit_waits_until_a_failure_leaves_the_window(redis):
    clock = Clock()
    limited = limiter(redis, clock)
    for _ in range(2):
        await limited.note_failure("alice")
        clock.now += 10
    assert await limited.retry_after("alice") is None
    await limited.note_failure("alice")  # failures at 0, 10, 20; now is 20

    assert await limited.retry_after("alice") == 40
    assert await limited.retry_after("bob") is None
    clock.now += 39.5
    assert await limited.retry_after("alice") == 1
    clock.now += 0.5
    assert await limited.retry_after("alice") is None


async def test_with_more_failures_than_the_limit_the_wait_is_for_enough_of_them_to_leave(redis):
    clock = Clock()
    limited = limiter(redis, clock, limit=2)
    for _ in range(4):
        await limited.note_failure("alice")  # at 0, 5, 10, 15
        clock.now += 5
    # now is 20: under the limit again once the failures at 0, 5 and 10 have left.
    assert await limited.retry_after("alice") == 50


async def test_reset_forgets_the_failures(redis):
    clock = Clock()
    limited = limiter(redis, clock, limit=1)
    await limited.note_failure("alice")
    assert await limited.retry_after("alice") == WINDOW
    await limited.reset("alice")
    assert await limited.retry_after("alice") is None


async def test_the_key_is_the_name_and_the_subject_and_it_expires(redis):
    limited = limiter(redis, Clock())
    await limited.note_failure("alice")
    key = f"{limited.name}:alice"
    assert await redis.zcard(key) == 1
    assert 0 < await redis.ttl(key) <= WINDOW + 1


@pytest.fixture
async def unreachable_redis():
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)  # nobody there
    yield client
    await client.aclose()


async def test_fail_open_lets_the_attempt_through_and_warns(unreachable_redis, caplog):
    limited = limiter(unreachable_redis, Clock())
    with caplog.at_level(logging.WARNING, logger="core.ratelimit"):
        await limited.note_failure("alice")
        assert await limited.retry_after("alice") is None
        await limited.reset("alice")
    assert len(caplog.records) == 3
    assert all("unavailable" in record.getMessage() for record in caplog.records)


async def test_fail_closed_lets_the_redis_error_through(unreachable_redis):
    limited = limiter(unreachable_redis, Clock(), fail_open=False)
    with pytest.raises(RedisError):
        await limited.retry_after("alice")
    with pytest.raises(RedisError):
        await limited.note_failure("alice")
    with pytest.raises(RedisError):
        await limited.reset("alice")


async def test_the_login_limiter_refuses_logins_rather_than_guessing_when_redis_is_down(
    unreachable_redis,
):
    login_limiter = LoginLimiter(unreachable_redis, Settings())
    with pytest.raises(RedisError):
        await login_limiter.ensure_allowed("someone@example.com", "10.0.0.1")
