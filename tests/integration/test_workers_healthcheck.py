"""The workers' container healthcheck: a heartbeat key in real Redis that expires."""

import asyncio
import uuid

from tests.support.polling import eventually
from workers.healthcheck import Heartbeat, alive


async def test_running_heartbeat_makes_its_host_alive_and_only_its_host(redis):
    host = f"host-{uuid.uuid4().hex[:8]}"
    assert not await alive(redis, host)
    stop = asyncio.Event()
    task = asyncio.create_task(Heartbeat(redis, host, every_seconds=0.05).run(stop))
    try:
        assert await eventually(lambda: alive(redis, host), timeout=2)
        assert not await alive(redis, f"other-{host}")
    finally:
        stop.set()
        await task
        await redis.delete(f"workers:heartbeat:{host}")


async def test_heartbeat_is_written_with_a_ttl_so_it_expires_when_beats_stop(redis):
    host = f"host-{uuid.uuid4().hex[:8]}"
    await Heartbeat(redis, host, ttl_seconds=1).beat()
    assert await alive(redis, host)
    assert 0 < await redis.ttl(f"workers:heartbeat:{host}") <= 1
