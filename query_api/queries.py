"""The read use cases of query_api: Redis read models first, Postgres only when they are gone.

When the "built" marker is missing (Redis restarted empty, FLUSHALL) a rebuild starts in the
background (one process at a time, under a Redis lock) and meanwhile buyers get their answer
computed from Postgres, never an empty list; operator reads wait for the rebuild.
"""

import asyncio
import csv
import io
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import NotFound, ServiceUnavailable
from loyalty import read_repository as repo
from loyalty.read_models.active import active_promocodes
from loyalty.read_models.readers import ReadModels
from loyalty.read_models.rebuild import RebuildTimeout, ensure_built

log = logging.getLogger(__name__)

OPERATOR_WAIT_SECONDS = 60.0
CSV_COLUMNS = [
    "code",
    "discount_type",
    "value",
    "valid_from",
    "valid_until",
    "max_uses",
    "per_user_limit",
    "uses",
    "is_active",
]


class ReadSide:
    def __init__(self, redis: Redis, engine: AsyncEngine) -> None:
        self.redis = redis
        self.engine = engine
        self.models = ReadModels(redis)
        self._rebuild: asyncio.Task | None = None

    # -- buyers ---------------------------------------------------------------------------

    async def active_promocodes(self, user_id: uuid.UUID) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        snapshot = await self.models.active_candidates(user_id)
        if snapshot is not None:
            return active_promocodes(snapshot.status, snapshot.candidates, now)
        self.start_rebuild()
        async with repo.read_only(self.engine) as conn:
            status = await repo.user_status(conn, user_id)
            candidates = await repo.active_candidates(conn, user_id)
        return active_promocodes(status, candidates, now)

    async def purchases(self, user_id: uuid.UUID, limit: int, offset: int) -> list[dict]:
        found = await self.models.purchases(user_id, limit, offset)
        if found is not None:
            return found
        self.start_rebuild()
        async with repo.read_only(self.engine) as conn:
            return await repo.user_purchases(conn, user_id, limit, offset)

    # -- operators ------------------------------------------------------------------------

    async def codes(
        self,
        *,
        batch_id: uuid.UUID | None,
        is_active: bool | None,
        code: str | None,
        limit: int,
        offset: int,
    ) -> tuple[list[dict], bool]:
        await self.require_built()
        if code is not None:
            code_id = await self.models.code_id(code)
            found = await self.models.code(code_id) if code_id else None
            matches = [
                c
                for c in [found]
                if c
                and (batch_id is None or c["batch_id"] == str(batch_id))
                and (is_active is None or c["is_active"] == is_active)
            ]
            return matches[offset : offset + limit], False
        return await self.models.codes(
            batch_id=batch_id, is_active=is_active, limit=limit, offset=offset
        )

    async def code(self, code_id: int) -> dict:
        await self.require_built()
        found = await self.models.code(code_id)
        if found is None:
            raise NotFound(message=f"No promo code with id {code_id}")
        return found

    async def attempts(self, criteria: repo.AttemptFilter) -> list[dict]:
        async with repo.read_only(self.engine) as conn:
            return await repo.attempts(conn, criteria)

    async def batch_csv(self, batch_id: uuid.UUID) -> AsyncIterator[str]:
        """Raises NotFound before the first line for an unknown batch."""
        async with repo.read_only(self.engine) as conn:
            if not await repo.batch_exists(conn, batch_id):
                raise NotFound(message=f"No batch {batch_id}")
        return self._csv_lines(batch_id)

    async def _csv_lines(self, batch_id: uuid.UUID) -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        yield _drain(buffer)
        async with repo.read_only(self.engine) as conn:
            async for rows in repo.batch_csv_rows(conn, batch_id):
                for row in rows:
                    writer.writerow(
                        [
                            row.code,
                            row.discount_type,
                            row.value,
                            row.valid_from.isoformat(),
                            row.valid_until.isoformat() if row.valid_until else "",
                            "" if row.max_uses is None else row.max_uses,
                            "" if row.per_user_limit is None else row.per_user_limit,
                            row.uses,
                            "true" if row.is_active else "false",
                        ]
                    )
                yield _drain(buffer)

    # -- the missing read model -----------------------------------------------------------

    def start_rebuild(self) -> asyncio.Task:
        """One background rebuild per process; the Redis lock keeps it to one per platform."""
        if self._rebuild is None or self._rebuild.done():
            log.warning("read model missing: rebuilding it from Postgres")
            self._rebuild = asyncio.create_task(ensure_built(self.redis, self.engine))
            self._rebuild.add_done_callback(_log_failure)
        return self._rebuild

    async def require_built(self) -> None:
        if await self.models.is_built():
            return
        try:
            await asyncio.wait_for(asyncio.shield(self.start_rebuild()), OPERATOR_WAIT_SECONDS)
        except (TimeoutError, RebuildTimeout, OSError) as exc:
            raise ServiceUnavailable(
                "read_model_rebuilding", "The read model is being rebuilt; try again shortly"
            ) from exc


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("rebuilding the read model failed", exc_info=task.exception())
