"""The workers' pipeline figures: outbox backlog, stream length, consumer lag and pending
entries, dead letters, read from the real Postgres and Redis."""

import uuid
from datetime import UTC, datetime

from prometheus_client import REGISTRY

from auth.models import outbox as auth_outbox
from core.db import get_engine
from core.streams import entry_fields
from workers.pipeline import pipeline_figures, set_gauges


async def test_the_figures_show_length_lag_pending_and_dead_letters(redis, settings):
    stream = f"test.pipeline.{uuid.uuid4().hex[:8]}"
    await redis.xgroup_create(stream, "g", id="0", mkstream=True)
    for _ in range(5):
        fields = entry_fields(uuid.uuid4(), "thing.happened", datetime.now(UTC), "a", {})
        await redis.xadd(stream, fields)
    await redis.xreadgroup("g", "c", {stream: ">"}, count=2)  # 2 delivered, not acknowledged
    await redis.xadd(f"{stream}.dlq", {"event_id": "x"})
    outboxes = {"auth": (get_engine(settings.auth_database_url), auth_outbox)}

    figures = await pipeline_figures(redis, outboxes, streams=(stream,))

    assert figures["streams"][stream] == {
        "length": 5,
        "dead_letters": 1,
        "groups": {"g": {"lag": 3, "pending": 2}},
    }
    backlog = figures["outbox"]["auth"]
    assert backlog["backlog"] >= 0 and backlog["oldest_seconds"] >= 0
    set_gauges(figures)
    assert REGISTRY.get_sample_value("consumer_lag", {"stream": stream, "group": "g"}) == 3
    assert REGISTRY.get_sample_value("dead_letters", {"stream": stream}) == 1
    await redis.delete(stream, f"{stream}.dlq")
