"""Redis Streams: the envelope, publishing, and a consumer-group runner.

Delivery is at least once: a handler must be idempotent (dedupe on `event_id`). The runner
acknowledges an entry only after its handler returned, reclaims entries a dead consumer
held (XAUTOCLAIM), and moves an entry that failed `max_deliveries` times to `<stream>.dlq`
so the rest keeps flowing. An entry is handled with the request id (and trace) of the request
that caused it, so the handler's log lines carry it (`core.tracing`).
"""

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from core.dependencies import lost_dependency
from core.outage import Outage
from core.tracing import CARRIED_FIELDS, continued

log = logging.getLogger(__name__)

AUTH_USERS = "auth.users"
LOYALTY_EVENTS = "loyalty.events"
STREAM_MAXLEN = 1_000_000


@dataclass(frozen=True)
class Envelope:
    event_id: str
    type: str
    occurred_at: str
    aggregate_id: str
    payload: dict[str, Any]
    stream: str = ""
    entry_id: str = ""

    @classmethod
    def from_entry(cls, stream: str, entry_id: str, fields: dict[str, str]) -> "Envelope":
        return cls(
            event_id=fields["event_id"],
            type=fields["type"],
            occurred_at=fields["occurred_at"],
            aggregate_id=fields["aggregate_id"],
            payload=json.loads(fields["payload"]),
            stream=stream,
            entry_id=entry_id,
        )


def entry_fields(
    event_id: uuid.UUID | str,
    type: str,
    occurred_at: datetime,
    aggregate_id: str,
    payload: dict[str, Any],
    context: dict[str, str] | None = None,
) -> dict[str, str]:
    """The entry's fields: the envelope, then what it carries of its cause (`context`: the
    request id and trace, `core.tracing.CARRIED_FIELDS`) when it has one."""
    fields = {
        "event_id": str(event_id),
        "type": type,
        "occurred_at": occurred_at.isoformat(),
        "aggregate_id": aggregate_id,
        "payload": json.dumps(payload, separators=(",", ":")),
    }
    for name in CARRIED_FIELDS:
        value = (context or {}).get(name)
        if isinstance(value, str):
            fields[name] = value
    return fields


Handler = Callable[[Envelope], Awaitable[None]]


async def ensure_group(redis: Redis, stream: str, group: str) -> None:
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


@dataclass(eq=False)
class ConsumerGroupRunner:
    """Feeds the entries of one stream to `handler`, one consumer of a consumer group
    (`consumer` names it; by default the group's name and a random suffix)."""

    redis: Redis
    stream: str
    group: str
    handler: Handler
    _: KW_ONLY
    consumer: str = ""
    block_ms: int = 2000
    claim_idle_ms: int = 30_000
    max_deliveries: int = 5
    batch: int = 100

    def __post_init__(self) -> None:
        self.consumer = self.consumer or f"{self.group}-{uuid.uuid4().hex[:8]}"

    @property
    def dlq(self) -> str:
        return f"{self.stream}.dlq"

    async def run(self, stop: asyncio.Event | None = None) -> None:
        stop = stop or asyncio.Event()
        outage = Outage(f"consumer {self.consumer} on {self.stream}", log)
        while not stop.is_set():
            try:
                await ensure_group(self.redis, self.stream, self.group)
                while not stop.is_set():
                    await self.step()
                    outage.recovered()
            except Exception as exc:
                await outage.failed(exc)

    async def step(self) -> int:
        """Reclaim stuck entries, then read new ones; returns how many entries were handled."""
        handled = await self._reclaim()
        response = await self.redis.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=self.batch, block=self.block_ms
        )
        for _stream, entries in response or []:
            for entry_id, fields in entries:
                await self._handle(entry_id, fields)
                handled += 1
        return handled

    async def _reclaim(self) -> int:
        _next, entries, *_ = await self.redis.xautoclaim(
            self.stream,
            self.group,
            self.consumer,
            min_idle_time=self.claim_idle_ms,
            start_id="0-0",
            count=self.batch,
        )
        for entry_id, fields in entries:
            if fields is not None:  # None: the entry was trimmed from the stream meanwhile
                await self._handle(entry_id, fields)
        return len(entries)

    async def _handle(self, entry_id: str, fields: dict[str, str]) -> None:
        """Handles one entry as part of the request that caused it (`core.tracing.continued`:
        every line logged meanwhile carries its request id), then logs it handled."""
        with continued(fields, f"{self.group} {fields.get('type', '?')}"):
            if await self._handled(entry_id, fields):
                await self.redis.xack(self.stream, self.group, entry_id)

    async def _handled(self, entry_id: str, fields: dict[str, str]) -> bool:
        """True when the handler returned; a failure counts toward the dead letters."""
        started = time.perf_counter()
        try:
            envelope = Envelope.from_entry(self.stream, entry_id, fields)
            await self.handler(envelope)
        except Exception as exc:
            if lost_dependency(exc) is not None:
                # An outage, not a poison event: no delivery counts toward the dead letters.
                # The entry stays pending (reclaimed later) and the run loop backs off.
                raise
            deliveries = await self._deliveries(entry_id)
            log.warning(
                "handler failed on %s %s (delivery %s): %r",
                self.stream,
                entry_id,
                deliveries,
                exc,
                exc_info=True,
            )
            if deliveries >= self.max_deliveries or not _is_well_formed(fields):
                await self._dead_letter(entry_id, fields, exc)
            return False
        # The consumer's access line.
        log.info(
            "handled %s",
            envelope.type,
            extra={
                "stream": self.stream,
                "group": self.group,
                "entry_id": entry_id,
                "event_id": envelope.event_id,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return True

    async def _deliveries(self, entry_id: str) -> int:
        pending = await self.redis.xpending_range(
            self.stream, self.group, min=entry_id, max=entry_id, count=1
        )
        return pending[0]["times_delivered"] if pending else self.max_deliveries

    async def _dead_letter(self, entry_id: str, fields: dict[str, str], exc: Exception) -> None:
        dead = {**fields, "source_id": entry_id, "group": self.group, "error": repr(exc)[:500]}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.dlq, dead, maxlen=STREAM_MAXLEN, approximate=True)
            pipe.xack(self.stream, self.group, entry_id)
            await pipe.execute()
        log.error("moved %s %s to %s", self.stream, entry_id, self.dlq)


def _is_well_formed(fields: dict[str, str]) -> bool:
    try:
        Envelope.from_entry("", "", fields)
    except (KeyError, ValueError):
        return False
    return True
