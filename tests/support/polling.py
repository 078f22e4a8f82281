"""Waiting by polling a condition, never by a fixed sleep.

`await eventually(read)` calls `read` (a function, sync or async) again and again until what it
returns is accepted (truthy by default, or `until(value)`), and returns that value. When
`timeout` runs out it fails with an AssertionError naming the condition and the last value (or
the last exception of a type listed in `retry_on`). `eventually_sync` is the same for code
outside an event loop.
"""

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

DEFAULT_TIMEOUT = 10.0
DEFAULT_INTERVAL = 0.05


class _Retried:
    """A try that raised one of the `retry_on` exceptions: not accepted, shown as the exception."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __repr__(self) -> str:
        return repr(self.exc)


def _try(call: Callable[[], Any], retry_on: tuple[type[BaseException], ...]) -> Any:
    try:
        return call()
    except retry_on as exc:
        return _Retried(exc)


async def _try_async(value: Awaitable, retry_on: tuple[type[BaseException], ...]) -> Any:
    try:
        return await value
    except retry_on as exc:
        return _Retried(exc)


class _Poll:
    """What both helpers share: the options, the deadline, the test of a value, the failure."""

    def __init__(
        self,
        condition: Callable[[], Any],
        timeout: float = DEFAULT_TIMEOUT,
        interval: float = DEFAULT_INTERVAL,
        *,
        until: Callable[[Any], bool] | None = None,
        retry_on: tuple[type[BaseException], ...] = (),
        message: str = "",
    ) -> None:
        self.condition, self.timeout, self.interval = condition, timeout, interval
        self.until, self.retry_on, self.message = until, retry_on, message
        self.deadline = time.monotonic() + timeout

    def accepts(self, value: Any) -> bool:
        self.last = value
        if isinstance(value, _Retried):
            return False
        return bool(self.until(value)) if self.until is not None else bool(value)

    def give_up_when_late(self) -> None:
        if time.monotonic() < self.deadline:
            return
        what = self.message or getattr(self.condition, "__qualname__", repr(self.condition))
        if self.until is not None:
            what += f" (until {getattr(self.until, '__qualname__', repr(self.until))})"
        raise AssertionError(f"{what}: not true after {self.timeout:g}s; last value: {self.last!r}")


async def eventually(condition: Callable[[], Any], *args: Any, **options: Any) -> Any:
    """Options: `timeout`, `interval`, `until`, `retry_on`, `message` (see the module)."""
    poll = _Poll(condition, *args, **options)
    while True:
        value = _try(condition, poll.retry_on)
        if inspect.isawaitable(value):
            value = await _try_async(value, poll.retry_on)
        if poll.accepts(value):
            return value
        poll.give_up_when_late()
        await asyncio.sleep(poll.interval)


def eventually_sync(condition: Callable[[], Any], *args: Any, **options: Any) -> Any:
    """`eventually` for code outside an event loop."""
    poll = _Poll(condition, *args, **options)
    while True:
        value = _try(condition, poll.retry_on)
        if poll.accepts(value):
            return value
        poll.give_up_when_late()
        time.sleep(poll.interval)
