"""What the event pipeline holds back, for operators: outbox backlog, stream lengths, consumer
lag and pending entries, dead letters.

`pipeline_figures` reads them from Postgres and Redis (a few cheap statements: the backlog
counts on the partial `ix_outbox_unpublished` index). The workers' `pipeline` component
(`PipelineReport`) writes them every `PIPELINE_REPORT_SECONDS` as one JSON log line (logger
`workers.pipeline`, message `pipeline`, the figures as fields) and keeps them in Prometheus
gauges, served at `/metrics` on `WORKERS_METRICS_PORT` when that is set (off by default).
"""

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from prometheus_client import Gauge, start_http_server
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.outage import Outage
from core.streams import AUTH_USERS, LOYALTY_EVENTS

log = logging.getLogger(__name__)

STREAMS = (AUTH_USERS, LOYALTY_EVENTS)

OUTBOX_BACKLOG = Gauge("outbox_backlog", "Outbox rows not yet published", ["database"])
OUTBOX_OLDEST = Gauge(
    "outbox_oldest_unpublished_seconds", "Age of the oldest unpublished row", ["database"]
)
STREAM_LENGTH = Gauge("stream_length", "Entries in the stream", ["stream"])
CONSUMER_LAG = Gauge(
    "consumer_lag", "Entries not yet delivered to the consumer group", ["stream", "group"]
)
CONSUMER_PENDING = Gauge(
    "consumer_pending", "Entries delivered and not yet acknowledged", ["stream", "group"]
)
DEAD_LETTERS = Gauge("dead_letters", "Entries in the stream's dead-letter stream", ["stream"])


async def pipeline_figures(
    redis: Redis,
    outboxes: dict[str, tuple[AsyncEngine, Table]],
    streams: tuple[str, ...] = STREAMS,
) -> dict:
    """{"outbox": {database: {"backlog", "oldest_seconds"}}, "streams": {stream: {"length",
    "dead_letters", "groups": {group: {"lag", "pending"}}}}}"""
    now = datetime.now(UTC)
    outbox = {}
    for database, (engine, table) in outboxes.items():
        async with engine.connect() as conn:
            backlog, oldest = (
                await conn.execute(
                    select(func.count(), func.min(table.c.occurred_at)).where(
                        table.c.published_at.is_(None)
                    )
                )
            ).one()
        age = round((now - oldest).total_seconds(), 3) if oldest is not None else 0.0
        outbox[database] = {"backlog": backlog, "oldest_seconds": age}
    figures = {}
    for stream in streams:
        try:
            groups = await redis.xinfo_groups(stream)
        except ResponseError:  # no such stream yet
            groups = []
        figures[stream] = {
            "length": await redis.xlen(stream),
            "dead_letters": await redis.xlen(f"{stream}.dlq"),
            # `lag` is None when Redis cannot tell (entries deleted from the middle).
            "groups": {g["name"]: {"lag": g.get("lag"), "pending": g["pending"]} for g in groups},
        }
    return {"outbox": outbox, "streams": figures}


def set_gauges(figures: dict) -> None:
    for database, f in figures["outbox"].items():
        OUTBOX_BACKLOG.labels(database).set(f["backlog"])
        OUTBOX_OLDEST.labels(database).set(f["oldest_seconds"])
    for stream, f in figures["streams"].items():
        STREAM_LENGTH.labels(stream).set(f["length"])
        DEAD_LETTERS.labels(stream).set(f["dead_letters"])
        for group, g in f["groups"].items():
            if g["lag"] is not None:
                CONSUMER_LAG.labels(stream, group).set(g["lag"])
            CONSUMER_PENDING.labels(stream, group).set(g["pending"])


class PipelineReport:
    def __init__(
        self,
        redis: Redis,
        outboxes: dict[str, tuple[AsyncEngine, Table]],
        every_seconds: float,
        metrics_port: int = 0,
        metrics_host: str = "127.0.0.1",
    ) -> None:
        self.redis, self.outboxes = redis, outboxes
        self.every_seconds, self.metrics_port = every_seconds, metrics_port
        self.metrics_host = metrics_host

    async def run(self, stop: asyncio.Event) -> None:
        if self.metrics_port:
            start_http_server(self.metrics_port, addr=self.metrics_host)
            log.info("workers metrics on %s:%d/metrics", self.metrics_host, self.metrics_port)
        outage = Outage("pipeline report", log)
        while not stop.is_set():
            try:
                figures = await pipeline_figures(self.redis, self.outboxes)
                outage.recovered()
            except Exception as exc:  # the next report, one interval later, is the retry
                outage.note(exc)
            else:
                set_gauges(figures)
                log.info("pipeline", extra=figures)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every_seconds)
