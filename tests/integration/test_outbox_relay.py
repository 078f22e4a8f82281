"""Outbox and relay against the real Postgres and Redis."""

import asyncio
import contextlib
import json
import uuid

from sqlalchemy import select, text

from core.db import get_engine, get_sessionmaker
from core.outbox import NOTIFY_CHANNEL, UnitOfWork
from core.redis import make_redis
from core.relay import OutboxRelay
from loyalty.models import Tariff, outbox
from tests.support.polling import eventually


def unique_stream() -> str:
    return f"test.relay.{uuid.uuid4().hex[:8]}"


async def test_event_is_written_only_when_the_change_commits(settings):
    stream = unique_stream()
    maker = get_sessionmaker(settings.loyalty_database_url)
    async with UnitOfWork(maker, outbox) as uow:
        uow.session.add(Tariff(name=f"rolled-back-{uuid.uuid4().hex[:8]}", price=100))
        uow.emit(stream, "tariff.created", 1, {"n": 1})
        await uow.flush_events()
        # leaving the block without commit rolls both back
    async with UnitOfWork(maker, outbox) as uow:
        uow.emit(stream, "tariff.created", 2, {"n": 2})
        await uow.commit()
    async with maker() as session:
        rows = (await session.execute(select(outbox).where(outbox.c.stream == stream))).all()
    assert [r.payload for r in rows] == [{"n": 2}]


async def test_relay_publishes_envelopes_in_order_and_marks_rows(settings, redis):
    stream = unique_stream()
    maker = get_sessionmaker(settings.loyalty_database_url)
    async with UnitOfWork(maker, outbox) as uow:
        for n in range(3):
            uow.emit(stream, "thing.happened", f"agg-{n}", {"n": n, "id": uuid.uuid4()})
        await uow.commit()
    relay = OutboxRelay(get_engine(settings.loyalty_database_url), outbox, redis, name="t")
    while await relay.publish_pending():
        pass
    entries = await redis.xrange(stream)
    assert [json.loads(f["payload"])["n"] for _id, f in entries] == [0, 1, 2]
    first = entries[0][1]
    assert set(first) == {"event_id", "type", "occurred_at", "aggregate_id", "payload"}
    assert first["type"] == "thing.happened" and first["aggregate_id"] == "agg-0"
    uuid.UUID(first["event_id"])
    async with maker() as session:
        unpublished = (
            await session.execute(
                select(outbox).where(outbox.c.stream == stream, outbox.c.published_at.is_(None))
            )
        ).all()
    assert unpublished == []


async def test_events_wait_while_redis_is_down_and_flow_when_it_returns(settings, redis):
    stream = unique_stream()
    maker = get_sessionmaker(settings.loyalty_database_url)
    dead_redis = make_redis("redis://127.0.0.1:1/0")  # nothing listens there
    down = OutboxRelay(get_engine(settings.loyalty_database_url), outbox, dead_redis, name="d")
    async with UnitOfWork(maker, outbox) as uow:
        uow.emit(stream, "thing.happened", "a", {"kept": True})
        await uow.commit()
    try:
        await down.publish_pending()
        raise AssertionError("publishing to a dead Redis must fail")
    except Exception as exc:
        assert "Connection" in type(exc).__name__ or "Error" in type(exc).__name__
    async with maker() as session:
        waiting = (
            await session.execute(
                select(outbox).where(outbox.c.stream == stream, outbox.c.published_at.is_(None))
            )
        ).all()
    assert len(waiting) == 1, "the event must stay in the outbox while Redis is down"
    up = OutboxRelay(get_engine(settings.loyalty_database_url), outbox, redis, name="u")
    while await up.publish_pending():
        pass
    assert await redis.xlen(stream) == 1


async def outbox_listeners(settings) -> set[int]:
    """The database sessions whose last statement was a LISTEN on the outbox channel."""
    async with get_engine(settings.loyalty_database_url).connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = :q"
            ),
            {"q": f'LISTEN "{NOTIFY_CHANNEL}"'},
        )
        return {row.pid for row in rows}


async def test_running_relay_is_woken_by_notify(settings, redis):
    stream = unique_stream()
    relay = OutboxRelay(
        get_engine(settings.loyalty_database_url), outbox, redis, name="n", poll_seconds=30
    )
    before = await outbox_listeners(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        # Its LISTEN is up: from now on only a NOTIFY can wake it (the 30 s poll is far off).
        await eventually(lambda: outbox_listeners(settings), until=lambda pids: pids - before)
        async with UnitOfWork(get_sessionmaker(settings.loyalty_database_url), outbox) as uow:
            uow.emit(stream, "thing.happened", "a", {})
            await uow.commit()
        assert await eventually(lambda: redis.xlen(stream), timeout=5) == 1
    finally:
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_two_relays_at_once_publish_every_event_exactly_once(settings, redis):
    """Relays scale out: each takes unpublished rows with SKIP LOCKED, so none is published
    by both (the order across relays is not kept; consumers order by version)."""
    stream = unique_stream()
    maker = get_sessionmaker(settings.loyalty_database_url)
    async with UnitOfWork(maker, outbox) as uow:
        for n in range(60):
            uow.emit(stream, "thing.happened", f"agg-{n}", {"n": n})
        await uow.commit()
    engine = get_engine(settings.loyalty_database_url)
    relays = [OutboxRelay(engine, outbox, redis, name=f"r{i}", batch=5) for i in range(2)]

    async def drain(relay: OutboxRelay) -> int:
        published = 0
        while taken := await relay.publish_pending():
            published += taken
        return published

    counts = await asyncio.gather(*(drain(relay) for relay in relays))
    entries = await redis.xrange(stream)
    assert sorted(json.loads(f["payload"])["n"] for _id, f in entries) == list(range(60))
    assert all(count > 0 for count in counts)  # both relays took a share
