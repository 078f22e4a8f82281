"""Reading the read models. `None` from a reader means "not built": the caller falls back."""

import json
import uuid
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from loyalty.read import keys
from loyalty.read.active import Candidate, code_view
from loyalty.read.scripts import Scripts

SCAN_CHUNK = 500


@dataclass(frozen=True)
class ActiveSnapshot:
    status: str | None
    candidates: list[Candidate]


def operator_view(snapshot: dict[str, Any], uses: int, failures: dict[str, str]) -> dict:
    counted = {reason: int(n) for reason, n in sorted(failures.items())}
    return {
        **snapshot,
        "uses": uses,
        "failures": counted,
        "failures_total": sum(counted.values()),
    }


class ReadModels:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.scripts = Scripts(redis)

    async def active_candidates(self, user_id: uuid.UUID) -> ActiveSnapshot | None:
        """One round trip: the user's status and every code that reaches them."""
        reply = await self.scripts.active_candidates(
            keys=[
                keys.BUILT,
                keys.user(user_id),
                keys.user_codes(user_id),
                keys.user_groups(user_id),
                keys.PUBLIC_CODES,
                keys.user_uses(user_id),
            ],
            args=[keys.GROUP_PREFIX, keys.CODES_SUFFIX, keys.CODE_PREFIX],
        )
        if reply[0] == 0:
            return None
        status, rest = reply[1] or None, reply[2:]
        candidates = [
            Candidate(code_view(rest[i]), int(rest[i + 1]), int(rest[i + 2]))
            for i in range(0, len(rest), 3)
        ]
        return ActiveSnapshot(status, candidates)

    async def purchases(self, user_id: uuid.UUID, limit: int, offset: int) -> list[dict] | None:
        reply = await self.scripts.user_purchases(
            keys=[keys.BUILT, keys.user_purchases(user_id)],
            args=[offset, limit, keys.purchase("")],
        )
        if reply[0] == 0:
            return None
        return [json.loads(data) for data in reply[1:]]

    async def is_built(self) -> bool:
        return bool(await self.redis.exists(keys.BUILT))

    async def code(self, code_id: int) -> dict | None:
        views = await self._views([str(code_id)])
        return views[0] if views else None

    async def code_id(self, text: str) -> int | None:
        found = await self.redis.get(keys.code_id_by_text(text.strip()))
        return int(found) if found else None

    async def codes(
        self,
        *,
        batch_id: uuid.UUID | None = None,
        is_active: bool | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[dict], bool]:
        """A page of codes, newest first, and whether more follow."""
        index = keys.batch(batch_id) if batch_id else keys.CODES
        if is_active is None:
            ids = await self.redis.zrevrange(index, offset, offset + limit)
            views = await self._views(ids[:limit])
            return views, len(ids) > limit
        # Filtering on a field: walk the index in chunks until the page is full.
        matched: list[dict] = []
        position = 0
        while len(matched) <= offset + limit:
            ids = await self.redis.zrevrange(index, position, position + SCAN_CHUNK - 1)
            if not ids:
                break
            position += len(ids)
            matched += [v for v in await self._views(ids) if v["is_active"] == is_active]
        return matched[offset : offset + limit], len(matched) > offset + limit

    async def _views(self, ids: list[str]) -> list[dict]:
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for code_id in ids:
                pipe.hmget(keys.code(code_id), "snap", "uses")
                pipe.hgetall(keys.code_failures(code_id))
            replies = await pipe.execute()
        views = []
        for (snap, uses), failures in zip(replies[::2], replies[1::2], strict=True):
            if snap:
                views.append(operator_view(json.loads(snap), int(uses or 0), failures))
        return views
