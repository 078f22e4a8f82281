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
from collections.abc import Callable
from typing import Any

DEFAULT_TIMEOUT = 10.0
DEFAULT_INTERVAL = 0.05


def _accepted(value: Any, until: Callable[[Any], bool] | None) -> bool:
    return bool(until(value)) if until is not None else bool(value)


def _failure(
    condition: Callable, until: Callable | None, timeout: float, last: Any, message: str
) -> AssertionError:
    what = message or getattr(condition, "__qualname__", repr(condition))
    if until is not None:
        what += f" (until {getattr(until, '__qualname__', repr(until))})"
    return AssertionError(f"{what}: not true after {timeout:g}s; last value: {last!r}")


async def eventually(
    condition: Callable[[], Any],
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = DEFAULT_INTERVAL,
    *,
    until: Callable[[Any], bool] | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
    message: str = "",
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
            if inspect.isawaitable(value):
                value = await value
        except retry_on as exc:
            value = exc
        else:
            if _accepted(value, until):
                return value
        if time.monotonic() >= deadline:
            raise _failure(condition, until, timeout, value, message)
        await asyncio.sleep(interval)


def eventually_sync(
    condition: Callable[[], Any],
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = DEFAULT_INTERVAL,
    *,
    until: Callable[[Any], bool] | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
    message: str = "",
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except retry_on as exc:
            value = exc
        else:
            if _accepted(value, until):
                return value
        if time.monotonic() >= deadline:
            raise _failure(condition, until, timeout, value, message)
        time.sleep(interval)
