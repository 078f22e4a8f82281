"""Liveness of `python -m workers`, which has no HTTP port to ask.

The `heartbeat` component writes `workers:heartbeat:<hostname>` with a short TTL every few
seconds; `python -m workers.healthcheck` (the container healthcheck) exits 0 while the key
of its own host exists. A stopped event loop, a hung process or a lost Redis all let the
key expire.
"""

import asyncio
import contextlib
import logging
import socket
import sys
from datetime import UTC, datetime

from redis.asyncio import Redis

from core.config import get_settings
from core.outage import Outage
from core.redis import make_redis

log = logging.getLogger(__name__)

HEARTBEAT_EVERY_SECONDS = 5.0
HEARTBEAT_TTL_SECONDS = 30


def heartbeat_key(hostname: str) -> str:
    return f"workers:heartbeat:{hostname}"


class Heartbeat:
    def __init__(
        self,
        redis: Redis,
        hostname: str | None = None,
        every_seconds: float = HEARTBEAT_EVERY_SECONDS,
        ttl_seconds: int = HEARTBEAT_TTL_SECONDS,
    ) -> None:
        self.redis = redis
        self.key = heartbeat_key(hostname or socket.gethostname())
        self.every_seconds = every_seconds
        self.ttl_seconds = ttl_seconds

    async def beat(self) -> None:
        await self.redis.set(self.key, datetime.now(UTC).isoformat(), ex=self.ttl_seconds)

    async def run(self, stop: asyncio.Event) -> None:
        outage = Outage("heartbeat", log)
        while not stop.is_set():
            try:
                await self.beat()
                outage.recovered()
            except Exception as exc:  # Redis away: the key expires and the check fails
                outage.note(exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every_seconds)


async def alive(redis: Redis, hostname: str) -> bool:
    return bool(await redis.exists(heartbeat_key(hostname)))


async def main() -> int:
    redis = make_redis(get_settings().redis_url)
    try:
        ok = await alive(redis, socket.gethostname())
    finally:
        await redis.aclose()
    print("ok" if ok else f"no workers heartbeat from this host in {HEARTBEAT_TTL_SECONDS} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
