"""Consumer groups against the real Redis: ack after success, reclaim, dead letters."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import DBAPIError

from core.streams import ConsumerGroupRunner, entry_fields


def unique_stream() -> str:
    return f"test.consumer.{uuid.uuid4().hex[:8]}"


async def add(redis, stream: str, type: str = "thing.happened", **payload) -> str:
    fields = entry_fields(uuid.uuid4(), type, datetime.now(UTC), "agg", payload)
    return await redis.xadd(stream, fields)


def runner(redis, stream, handler, **kw) -> ConsumerGroupRunner:
    return ConsumerGroupRunner(redis, stream, "g", handler, block_ms=50, claim_idle_ms=0, **kw)


async def test_entries_are_acked_after_the_handler_returns(redis):
    stream, seen = unique_stream(), []

    async def handler(envelope):
        seen.append(envelope.payload["n"])

    consumer = runner(redis, stream, handler)
    await redis.xgroup_create(stream, "g", id="0", mkstream=True)
    for n in range(3):
        await add(redis, stream, n=n)
    await consumer.step()
    assert seen == [0, 1, 2]
    assert (await redis.xpending(stream, "g"))["pending"] == 0


async def test_a_failed_entry_is_retried_and_then_applied(redis):
    stream, attempts = unique_stream(), []

    async def flaky(envelope):
        attempts.append(envelope.event_id)
        if len(attempts) < 3:
            raise RuntimeError("database hiccup")

    consumer = runner(redis, stream, flaky)
    await redis.xgroup_create(stream, "g", id="0", mkstream=True)
    await add(redis, stream)
    for _ in range(3):
        await consumer.step()
    assert len(attempts) == 3 and len(set(attempts)) == 1
    assert (await redis.xpending(stream, "g"))["pending"] == 0
    assert await redis.xlen(f"{stream}.dlq") == 0


async def test_poison_entry_goes_to_the_dlq_after_five_deliveries_and_the_rest_flows(redis):
    stream, applied = unique_stream(), []

    async def handler(envelope):
        if envelope.payload.get("poison"):
            raise ValueError("cannot apply this one")
        applied.append(envelope.payload["n"])

    consumer = runner(redis, stream, handler)
    await redis.xgroup_create(stream, "g", id="0", mkstream=True)
    poison_id = await add(redis, stream, poison=True)
    await add(redis, stream, n=1)
    for _ in range(6):
        await consumer.step()
    await add(redis, stream, n=2)
    await consumer.step()
    assert applied == [1, 2]
    dead = await redis.xrange(f"{stream}.dlq")
    assert len(dead) == 1
    assert dead[0][1]["source_id"] == poison_id
    assert json.loads(dead[0][1]["payload"]) == {"poison": True}
    assert "cannot apply" in dead[0][1]["error"]
    assert (await redis.xpending(stream, "g"))["pending"] == 0


async def test_malformed_entry_goes_straight_to_the_dlq(redis):
    stream = unique_stream()

    async def handler(envelope):
        raise AssertionError("never called for a malformed entry")

    consumer = runner(redis, stream, handler)
    await redis.xgroup_create(stream, "g", id="0", mkstream=True)
    await redis.xadd(stream, {"garbage": "yes"})
    await consumer.step()
    assert await redis.xlen(f"{stream}.dlq") == 1
    assert (await redis.xpending(stream, "g"))["pending"] == 0


async def test_entries_held_by_a_dead_consumer_are_reclaimed(redis):
    stream, seen = unique_stream(), []

    async def handler(envelope):
        seen.append(envelope.payload["n"])

    await redis.xgroup_create(stream, "g", id="0", mkstream=True)
    await add(redis, stream, n=7)
    # a consumer that read the entry and died before acknowledging it
    await redis.xreadgroup("g", "dead-consumer", {stream: ">"}, count=10)
    survivor = runner(redis, stream, handler, consumer="survivor")
    await survivor.step()
    assert seen == [7]
    assert (await redis.xpending(stream, "g"))["pending"] == 0


async def test_an_outage_of_the_handlers_database_never_sends_an_entry_to_the_dlq(redis):
    """A handler that cannot reach Postgres fails every delivery: that is an outage, not a
    poison event; the entry waits, pending, and is applied once the database is back."""
    stream, attempts = unique_stream(), []

    async def database_down_for_a_while(envelope):
        attempts.append(envelope.event_id)
        if len(attempts) <= 8:
            raise DBAPIError("SELECT 1", None, Exception("gone"), connection_invalidated=True)

    consumer = runner(redis, stream, database_down_for_a_while)
    await redis.xgroup_create(stream, "g", id="0", mkstream=True)
    await add(redis, stream)
    for _ in range(8):
        with pytest.raises(DBAPIError):
            await consumer.step()
    assert await redis.xlen(f"{stream}.dlq") == 0
    assert (await redis.xpending(stream, "g"))["pending"] == 1
    await consumer.step()
    assert len(attempts) == 9
    assert (await redis.xpending(stream, "g"))["pending"] == 0
    assert await redis.xlen(f"{stream}.dlq") == 0
