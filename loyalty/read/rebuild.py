"""Rebuilding every read model from Postgres, by one process at a time.

The rebuild first removes the built marker: from then on projectors wait and query_api falls
back to Postgres (buyers are served throughout), so nothing is applied on top of a
half-loaded model. It reads Postgres in one REPEATABLE READ snapshot taken after that, so
every event applied before is contained in it and every event applied after is applied once
the marker is back, where it is newer than the snapshot or skipped as older (every change
carries a version). Rows stream from server-side cursors a chunk at a time, each chunk one
pipelined round trip; only what buyers read is loaded (`keys`).
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from sqlalchemy.ext.asyncio import AsyncEngine

from loyalty.domain import events
from loyalty.domain.enums import PurchaseStatus
from loyalty.read import keys
from loyalty.read import postgres as repo
from loyalty.read.projection import PURCHASE_RANK, Projection, to_json
from loyalty.read.scripts import Scripts

log = logging.getLogger(__name__)

LOCK_TTL_MS = 30_000
SCAN_COUNT = 5000
# Rows per server-side cursor fetch and per pipelined round trip.
CHUNK = 2000


class RebuildTimeout(Exception):
    """The read model was not built in time (another process may still be rebuilding)."""


class RebuildLock:
    """A Redis lock with a token, kept alive while its holder works."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.scripts = Scripts(redis)
        self.token = uuid.uuid4().hex
        self._keeper: asyncio.Task | None = None

    async def acquire(self) -> bool:
        if not await self.redis.set(keys.REBUILD_LOCK, self.token, nx=True, px=LOCK_TTL_MS):
            return False
        self._keeper = asyncio.create_task(self._keep_alive())
        return True

    async def release(self) -> None:
        if self._keeper:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        await self.scripts.release_lock(keys=[keys.REBUILD_LOCK], args=[self.token])

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(LOCK_TTL_MS / 3000)
            extended = await self.scripts.extend_lock(
                keys=[keys.REBUILD_LOCK], args=[self.token, LOCK_TTL_MS]
            )
            if not extended:
                log.error("rebuild lock lost while rebuilding")
                return


async def is_built(redis: Redis) -> bool:
    return bool(await redis.exists(keys.BUILT))


async def rebuild_read_models(redis: Redis, engine: AsyncEngine) -> dict[str, int]:
    """Wipes and reloads every read model; the caller holds the rebuild lock."""
    started = time.monotonic()
    await redis.delete(keys.BUILT)
    await _wipe(redis)
    loader = _Loader(redis)
    async with repo.read_only(engine, snapshot=True) as conn:
        await loader.each(conn, repo.listable_codes(), "codes", loader.code)
        await loader.each(conn, repo.all_audience_versions(), "audience", loader.audience)
        await loader.each(conn, repo.all_user_uses(), "user_uses", loader.user_uses)
        await loader.each(conn, repo.all_purchases(), "purchases", loader.purchases, per_chunk=True)
        await loader.each(conn, repo.all_user_statuses(), "users", loader.user_status)
    await redis.set(keys.BUILT, datetime.now(UTC).isoformat())
    log.info(
        "read models rebuilt in %.2fs: %s",
        time.monotonic() - started,
        ", ".join(f"{n} {what}" for what, n in loader.counts.items()),
    )
    return loader.counts


async def ensure_built(
    redis: Redis,
    engine: AsyncEngine,
    *,
    timeout: float = 300.0,
    force: bool = False,
) -> bool:
    """Makes sure the read model is built; True when this call rebuilt it.

    One process rebuilds (the lock holder); the others wait for the marker. `force` rebuilds
    even when the marker is there (`python -m workers rebuild`).
    """
    deadline = time.monotonic() + timeout
    while force or not await is_built(redis):
        lock = RebuildLock(redis)
        if await lock.acquire():
            try:
                if force or not await is_built(redis):
                    await rebuild_read_models(redis, engine)
                    return True
            finally:
                await lock.release()
        if time.monotonic() > deadline:
            raise RebuildTimeout("the read model was not rebuilt in time")
        await asyncio.sleep(0.1)
    return False


async def _wipe(redis: Redis) -> None:
    batch: list[str] = []
    async for key in redis.scan_iter(match=f"{keys.PREFIX}*", count=SCAN_COUNT):
        if key.startswith(keys.SEEN_PREFIX) or key == keys.REBUILD_LOCK:
            continue
        batch.append(key)
        if len(batch) >= SCAN_COUNT:
            await redis.unlink(*batch)
            batch = []
    if batch:
        await redis.unlink(*batch)


# Where each kind of audience pair lives: its hash and its field (`events.AUDIENCE_*`).
_AUDIENCE = {
    events.AUDIENCE_USER: lambda row: (keys.user_codes(row.target), row.scope_id),
    events.AUDIENCE_GROUP: lambda row: (keys.group_codes(row.target), row.scope_id),
    events.AUDIENCE_MEMBER: lambda row: (keys.user_groups(row.target), row.scope_id),
}


class _Loader:
    """Writes rows into Redis through pipelines, one chunk per round trip."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.projection = Projection(redis)
        self.counts: dict[str, int] = {}

    async def each(
        self,
        conn,
        statement,
        what: str,
        load: Callable[[Pipeline, Any], Awaitable[None]],
        *,
        per_chunk: bool = False,
    ) -> None:
        """Streams the statement's rows; while Redis applies one chunk's pipeline, the next
        chunk is fetched from Postgres and built. `per_chunk`: `load` takes a chunk's rows."""
        count = 0
        applying: asyncio.Task | None = None
        async for rows in repo.rows_in_chunks(conn, statement, CHUNK):
            pipe = self.redis.pipeline(transaction=False)
            if per_chunk:  # `load` takes the whole chunk
                await load(pipe, rows)
            else:
                for row in rows:
                    await load(pipe, row)
            if applying is not None:
                await applying
            applying = asyncio.create_task(pipe.execute())
            count += len(rows)
        if applying is not None:
            await applying
        self.counts[what] = count

    async def code(self, pipe: Pipeline, row) -> None:
        await self.projection.upsert_code(None, repo.code_snapshot(row), via=pipe)

    async def audience(self, pipe: Pipeline, row) -> None:
        key, field = _AUDIENCE[row.kind](row)
        pipe.hset(key, field, row.version if row.present else -row.version)

    async def user_uses(self, pipe: Pipeline, row) -> None:
        pipe.hset(
            keys.user_uses(row.user_id),
            mapping={row.promocode_id: row.uses, f"v:{row.promocode_id}": row.version},
        )

    async def purchases(self, pipe: Pipeline, rows: list) -> None:
        """A chunk of purchases, two commands per user (rows come grouped by user)."""
        by_user: dict[Any, tuple[dict, dict]] = {}
        for row in rows:
            data, when = by_user.setdefault(row.user_id, ({}, {}))
            snapshot = repo.purchase_snapshot(row)
            fields = {k: v for k, v in snapshot.items() if k not in events.PURCHASE_COUNTERS}
            rank = PURCHASE_RANK[PurchaseStatus(row.status)]
            data[snapshot["id"]] = f"{rank}{to_json(fields)}"
            when[snapshot["id"]] = row.created_at.timestamp()
        for user_id, (data, when) in by_user.items():
            pipe.hset(keys.user_purchase_data(user_id), mapping=data)
            pipe.zadd(keys.user_purchases(user_id), when)

    async def user_status(self, pipe: Pipeline, row) -> None:
        pipe.hset(
            keys.user(row.id), mapping={"status": row.status, "at": row.updated_at.timestamp()}
        )
