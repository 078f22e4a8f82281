"""`python -m workers`: every background component of the platform in one process.

Each component is a coroutine that runs until `stop` is set and recovers from lost
connections by itself. Run more processes to scale: relays share work through
SKIP LOCKED, consumers through their consumer group.
"""

import asyncio
import logging
import signal
import socket
from collections.abc import Awaitable, Callable

from sqlalchemy import Table

from auth.models import outbox as auth_outbox
from core.config import Settings, get_settings
from core.db import get_engine
from core.logging import setup_logging
from core.redis import make_redis
from core.relay import OutboxRelay
from core.streams import AUTH_USERS, LOYALTY_EVENTS, ConsumerGroupRunner
from loyalty.handlers import sync_user
from loyalty.models import outbox as loyalty_outbox
from workers.healthcheck import Heartbeat
from workers.pipeline import PipelineReport
from workers.projector import LOYALTY_GROUP, USERS_GROUP, Projector
from workers.reaper import Reaper

log = logging.getLogger("workers")

Component = Callable[[asyncio.Event], Awaitable[None]]


def consumer(settings: Settings, stream: str, group: str, handler) -> ConsumerGroupRunner:
    return ConsumerGroupRunner(
        make_redis(settings.redis_url),
        stream,
        group,
        handler,
        consumer=f"{group}-{socket.gethostname()}-{id(handler):x}",
        block_ms=settings.stream_block_ms,
        claim_idle_ms=settings.stream_claim_idle_ms,
        max_deliveries=settings.stream_max_deliveries,
    )


def components(settings: Settings) -> dict[str, Component]:
    redis = make_redis(settings.redis_url)
    projector = Projector.from_settings(settings)

    def relay(name: str, database_url: str, outbox: Table) -> Component:
        """Copies the outbox of one database to the streams."""
        engine = get_engine(database_url)
        return OutboxRelay(
            engine, outbox, redis, name=name, poll_seconds=settings.outbox_poll_seconds
        ).run

    return {
        "auth_relay": relay("auth", settings.auth_database_url, auth_outbox),
        "loyalty_relay": relay("loyalty", settings.loyalty_database_url, loyalty_outbox),
        "user_sync": consumer(settings, AUTH_USERS, "user_sync", sync_user).run,
        "projector": consumer(settings, LOYALTY_EVENTS, LOYALTY_GROUP, projector.handle).run,
        "projector_users": consumer(settings, AUTH_USERS, USERS_GROUP, projector.handle).run,
        "reaper": Reaper(settings).run,
        # Liveness for the container healthcheck (`python -m workers.healthcheck`).
        "heartbeat": Heartbeat(redis).run,
        # Outbox backlog, stream lengths, consumer lag, dead letters (docs/faults.md).
        "pipeline": PipelineReport(
            redis,
            {
                "auth": (get_engine(settings.auth_database_url), auth_outbox),
                "loyalty": (get_engine(settings.loyalty_database_url), loyalty_outbox),
            },
            every_seconds=settings.pipeline_report_seconds,
            metrics_port=settings.workers_metrics_port,
            metrics_host=settings.workers_metrics_host,
        ).run,
    }


async def run_all() -> None:
    settings = get_settings()
    setup_logging(settings, "workers")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    tasks = {
        name: asyncio.create_task(run(stop), name=name)
        for name, run in components(settings).items()
    }
    log.info("workers started: %s", ", ".join(tasks))
    await stop.wait()
    for task in tasks.values():
        task.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    log.info("workers stopped")
