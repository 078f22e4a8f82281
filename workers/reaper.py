"""Cancels reservations not confirmed within RESERVATION_TTL (reason `reservation_expired`).

Every `reaper_interval_seconds` it cancels what is due through the same handler a buyer's
cancel uses, so the use goes back exactly once and `purchase.cancelled` is published. Several
reapers may run: the cancel is a conditional UPDATE, so only one of them wins each purchase.
"""

import asyncio
import contextlib
import logging

from core.config import Settings
from core.outage import Outage
from loyalty.handlers import expire_reservations

log = logging.getLogger(__name__)


class Reaper:
    def __init__(self, settings: Settings, batch: int = 500) -> None:
        self.interval = settings.reaper_interval_seconds
        self.batch = batch

    async def run(self, stop: asyncio.Event) -> None:
        outage = Outage("reaper", log)
        while not stop.is_set():
            try:
                while (expired := await expire_reservations(limit=self.batch)) >= self.batch:
                    log.info("reaper: %d reservations expired, more due", expired)
                if expired:
                    log.info("reaper: %d reservations expired", expired)
                outage.recovered()
            except Exception as exc:  # the next pass, one interval later, is the retry
                outage.note(exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
