"""Remembering for a moment that a dependency does not answer, so the requests after the one
that found out are answered 503 at once instead of each waiting out its own timeout.

A `Circuit` is opened by whoever sees the dependency fail (a Redis command timing out, the
Postgres watchdog's ping going unanswered) and stays open `open_seconds`; while it is open,
`check()` raises `Unanswered`, which the apps answer 503 naming the dependency
(`core.dependencies`). Then the next call tries the dependency again.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Unanswered(Exception):
    """The dependency failed a moment ago: not asked again yet."""

    def __init__(self, dependency: str) -> None:
        super().__init__(f"{dependency} did not answer a moment ago; not asked again yet")
        self.dependency = dependency


class Circuit:
    def __init__(self, dependency: str, open_seconds: float) -> None:
        self.dependency, self.open_seconds = dependency, open_seconds
        self._open_until = 0.0

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def open(self) -> None:
        self._open_until = time.monotonic() + self.open_seconds

    def close(self) -> None:
        self._open_until = 0.0

    def check(self) -> None:
        if self.is_open:
            raise Unanswered(self.dependency)

    @contextmanager
    def guarding(self, *failures: type[BaseException]) -> Iterator[None]:
        """A call to the dependency: refused at once while open; one of `failures` opens it."""
        self.check()
        try:
            yield
        except failures:
            self.open()
            raise
