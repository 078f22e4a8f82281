"""The polling helpers the other tests wait with."""

import itertools

import pytest

from tests.support.polling import eventually, eventually_sync


def counter():
    return itertools.count(1).__next__


async def test_eventually_returns_the_first_accepted_value_of_a_sync_or_async_read():
    tick = counter()

    async def read():
        return tick()

    assert await eventually(read, until=lambda n: n >= 3, interval=0) == 3
    assert await eventually(counter(), until=lambda n: n == 2, interval=0) == 2


async def test_eventually_fails_naming_the_condition_and_the_last_value():
    with pytest.raises(AssertionError, match=r"the answer: not true after 0.05s; last value: 0"):
        await eventually(lambda: 0, timeout=0.05, interval=0.01, message="the answer")


async def test_eventually_retries_listed_exceptions_only():
    tick = counter()

    def flaky():
        if tick() < 3:
            raise ConnectionError("not yet")
        return "up"

    assert await eventually(flaky, retry_on=(ConnectionError,), interval=0) == "up"
    with pytest.raises(ZeroDivisionError):
        await eventually(lambda: 1 / 0, retry_on=(ConnectionError,))


def test_eventually_sync_polls_and_fails_the_same_way():
    def down():
        raise ConnectionError("refused")

    assert eventually_sync(counter(), until=lambda n: n == 4, interval=0) == 4
    with pytest.raises(AssertionError, match=r"last value: ConnectionError\('refused'\)"):
        eventually_sync(down, timeout=0.05, interval=0.01, retry_on=(ConnectionError,))
