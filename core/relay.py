"""Outbox relay: copies unpublished outbox rows to Redis Streams, then marks them published.

Woken by LISTEN/NOTIFY right after a command commits; a periodic poll covers a lost
notification or a relay that was down. Several relays may run at once: rows are taken with
FOR UPDATE SKIP LOCKED. A crash between XADD and the UPDATE publishes an entry twice,
which the consumers' event_id dedupe absorbs: at least once, never lost.
"""

import asyncio
import contextlib
import logging
from dataclasses import KW_ONLY, dataclass, field

import asyncpg
from redis.asyncio import Redis
from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import asyncpg_dsn
from core.outage import Outage
from core.outbox import NOTIFY_CHANNEL
from core.streams import STREAM_MAXLEN, entry_fields

log = logging.getLogger(__name__)


@dataclass(eq=False)
class OutboxRelay:
    """Publishes the rows of one outbox table (`name` tells the relays apart in logs) in
    batches of up to `batch`; without a NOTIFY it looks again every `poll_seconds`."""

    engine: AsyncEngine
    outbox: Table
    redis: Redis
    _: KW_ONLY
    name: str
    poll_seconds: float = 1.0
    batch: int = 500
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)

    async def publish_pending(self) -> int:
        """Publishes one batch of unpublished rows; returns how many."""
        o = self.outbox
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(o)
                    .where(o.c.published_at.is_(None))
                    .order_by(o.c.id)
                    .limit(self.batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            async with self.redis.pipeline(transaction=False) as pipe:
                for row in rows:
                    fields = entry_fields(
                        row.event_id,
                        row.type,
                        row.occurred_at,
                        row.aggregate_id,
                        row.payload,
                        row.context,
                    )
                    pipe.xadd(row.stream, fields, maxlen=STREAM_MAXLEN, approximate=True)
                await pipe.execute()
            await conn.execute(
                update(o).where(o.c.id.in_([r.id for r in rows])).values(published_at=func.now())
            )
        return len(rows)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        listener = asyncio.create_task(self._listen(stop))
        outage = Outage(f"relay {self.name}", log)
        try:
            while not stop.is_set():
                try:
                    while await self.publish_pending() == self.batch:
                        pass
                except Exception as exc:
                    await outage.failed(exc)
                    continue
                outage.recovered()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                self._wake.clear()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def _listen(self, stop: asyncio.Event) -> None:
        """Holds a LISTEN connection, reconnecting with backoff; the poll covers the gaps."""
        dsn = asyncpg_dsn(self.engine.url.render_as_string(hide_password=False))
        outage = Outage(f"relay {self.name} LISTEN", log, base=0.2)
        while not stop.is_set():
            try:
                conn = await asyncpg.connect(dsn, timeout=5)
                try:
                    await conn.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
                    outage.recovered()
                    while not stop.is_set() and not conn.is_closed():
                        await asyncio.sleep(self.poll_seconds)
                        await conn.execute("SELECT 1")
                finally:
                    with contextlib.suppress(Exception):
                        await conn.close()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await outage.failed(exc)
