"""The read use cases of query_api: Redis read models first, Postgres only when they are gone.

When the "built" marker is missing (Redis restarted empty, FLUSHALL) a rebuild starts in the
background (one process at a time, under a Redis lock) and meanwhile buyers get their answer
computed from Postgres, never an empty list. Operators read codes, batches and attempts from
Postgres through the read-only engine: none of it is kept in Redis.
"""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from core.security import Unconfirmed
from loyalty.domain.errors import BatchNotFound, PromocodeNotFound
from loyalty.read import postgres as repo
from loyalty.read.active import ActivePage, visible
from loyalty.read.batch_csv import batch_csv_lines
from loyalty.read.readers import ReadModels
from loyalty.read.rebuild import ensure_built

log = logging.getLogger(__name__)


class ReadSide:
    def __init__(self, redis: Redis, engine: AsyncEngine) -> None:
        self.redis = redis
        self.engine = engine
        self.models = ReadModels(redis)
        self._rebuild: asyncio.Task | None = None

    # -- buyers ---------------------------------------------------------------------------

    async def active_promocodes(
        self, user_id: uuid.UUID, limit: int, offset: int, caller: Unconfirmed | None = None
    ) -> ActivePage:
        """`caller`: the buyer whose token is checked for revocation in the same Redis round
        trip as the read (`core.security.Unconfirmed`); raises `TokenRevoked`."""
        now = datetime.now(UTC)
        page = await self.models.active_page(user_id, now, limit, offset, caller)
        if page is not None:
            return page
        self.start_rebuild()
        async with repo.read_only(self.engine) as conn:
            status = await repo.user_status(conn, user_id)
            candidates = await repo.active_candidates(conn, user_id)
        return ActivePage.of(visible(status, candidates, now), limit, offset)

    async def purchases(
        self, user_id: uuid.UUID, limit: int, offset: int, caller: Unconfirmed | None = None
    ) -> list[dict]:
        """`caller` as in `active_promocodes`."""
        found = await self.models.purchases(user_id, limit, offset, caller)
        if found is not None:
            return found
        self.start_rebuild()
        async with repo.read_only(self.engine) as conn:
            return await repo.user_purchases(conn, user_id, limit, offset)

    # -- operators ------------------------------------------------------------------------

    async def codes(self, criteria: repo.CodeFilter) -> tuple[list[dict], bool]:
        """Read from Postgres (read-only): batch codes are not kept in Redis."""
        async with repo.read_only(self.engine) as conn:
            return await repo.codes_page(conn, criteria)

    async def code(self, code_id: int) -> dict:
        async with repo.read_only(self.engine) as conn:
            found = await repo.code_detail(conn, code_id)
        if found is None:
            raise PromocodeNotFound(details={"promocode_id": code_id})
        return found

    async def attempts(self, criteria: repo.AttemptFilter) -> list[dict]:
        async with repo.read_only(self.engine) as conn:
            return await repo.attempts(conn, criteria)

    async def batch_csv(self, batch_id: uuid.UUID) -> AsyncIterator[str]:
        """Raises BatchNotFound before the first line for an unknown batch."""
        async with repo.read_only(self.engine) as conn:
            if not await repo.batch_exists(conn, batch_id):
                raise BatchNotFound(details={"batch_id": str(batch_id)})
        return batch_csv_lines(self.engine, batch_id)

    # -- the missing read model -----------------------------------------------------------

    def start_rebuild(self) -> asyncio.Task:
        """One background rebuild per process; the Redis lock keeps it to one per platform."""
        if self._rebuild is None or self._rebuild.done():
            log.warning("read model missing: rebuilding it from Postgres")
            self._rebuild = asyncio.create_task(ensure_built(self.redis, self.engine))
            self._rebuild.add_done_callback(_log_failure)
        return self._rebuild


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("rebuilding the read model failed", exc_info=task.exception())
