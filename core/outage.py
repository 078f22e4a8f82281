"""How a background loop waits out a failure: bounded exponential backoff with jitter, and
one log line when the trouble starts and one when it ends, never one per retry.

    outage = Outage("relay loyalty", log)
    while not stop.is_set():
        try:
            await work()
        except Exception as exc:
            await outage.failed(exc)   # logs the first failure, sleeps the next backoff
            continue
        outage.recovered()             # logs once that it is over, resets the backoff

The first failure is a WARNING naming the lost dependency (`core.dependencies`) when there is
one, or an ERROR with its traceback when there is none (a defect, worth a look, once). The
retries in between are DEBUG. The recovery is an INFO line with how long it lasted and how
many retries it took. Every line carries `component`, and `dependency` when known, as fields.
"""

import asyncio
import logging
import random
import time

from core.dependencies import lost_dependency


class Outage:
    def __init__(
        self, component: str, log: logging.Logger, *, base: float = 0.1, cap: float = 5.0
    ) -> None:
        self.component, self.log, self.base, self.cap = component, log, base, cap
        self.failures = 0
        self.started: float | None = None
        self.dependency: str | None = None

    @property
    def ongoing(self) -> bool:
        return self.started is not None

    def delay(self) -> float:
        """The next wait: base * 2^(failures - 1), capped, half of it jittered (so a fleet of
        retrying loops does not come back in step)."""
        ceiling = min(self.cap, self.base * 2 ** max(self.failures - 1, 0))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def note(self, exc: BaseException) -> float:
        """Records a failure (logging it when it starts an outage); returns the wait."""
        self.failures += 1
        fields = {"component": self.component}
        if self.started is None:
            self.started = time.monotonic()
            self.dependency = lost_dependency(exc)
            if self.dependency is not None:
                fields["dependency"] = self.dependency
                self.log.warning(
                    "%s: %s not answering (%r); retrying with backoff until it does",
                    self.component,
                    self.dependency,
                    exc,
                    extra=fields,
                )
            else:
                self.log.error(
                    "%s failed; retrying with backoff", self.component, exc_info=exc, extra=fields
                )
        else:
            self.log.debug("%s still failing: %r", self.component, exc, extra=fields)
        return self.delay()

    async def failed(self, exc: BaseException) -> None:
        """Records a failure, then sleeps the backoff."""
        await asyncio.sleep(self.note(exc))

    def recovered(self) -> None:
        """The work succeeded: logs the end of an ongoing outage, and resets the backoff."""
        if self.started is not None:
            fields = {"component": self.component, "outage_seconds": self.elapsed()}
            if self.dependency is not None:
                fields["dependency"] = self.dependency
            self.log.info(
                "%s recovered after %.1fs and %d retries",
                self.component,
                self.elapsed(),
                self.failures,
                extra=fields,
            )
        self.failures, self.started, self.dependency = 0, None, None

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 3) if self.started is not None else 0.0
