"""Reading the read models. `None` from a reader means "not built": the caller falls back."""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from loyalty.domain import rules
from loyalty.read import keys
from loyalty.read.active import Candidate, code_view, listed, visible
from loyalty.read.scripts import Scripts

# Public codes read per round trip at first; doubled while a page is not full (codes the
# user may not use, e.g. used up or not started yet, are skipped), up to the largest.
FIRST_CHUNK, LARGEST_CHUNK = 32, 1024


@dataclass(frozen=True)
class ActivePage:
    items: list[dict[str, Any]]
    has_more: bool


@dataclass(frozen=True)
class _Chunk:
    status: str | None
    personal: list[Candidate]
    public: list[Candidate]
    scanned: int


class ReadModels:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.scripts = Scripts(redis)

    async def active_page(
        self, user_id: uuid.UUID, now: datetime, limit: int, offset: int
    ) -> ActivePage | None:
        """One page of the user's listing. Reads the codes assigned to the user and their
        groups, and the public codes in the listing's order from the first not yet expired,
        only until `offset + limit + 1` of them are visible: the cost follows the page, not
        the number of codes in the system."""
        need = offset + limit + 1
        count = max(FIRST_CHUNK, min(need, LARGEST_CHUNK))
        first = await self._chunk(user_id, now, 0, count, personal=True)
        if first is None:
            return None
        if not rules.is_eligible(first.status):
            return ActivePage([], False)
        seen = visible(first.status, first.personal, now)
        public = visible(first.status, first.public, now)
        position, chunk = first.scanned, first
        while len(public) < need and chunk.scanned == count:
            count = min(count * 2, LARGEST_CHUNK)
            chunk = await self._chunk(user_id, now, position, count, personal=False)
            if chunk is None:
                return None
            public += visible(first.status, chunk.public, now)
            position += chunk.scanned
        entries = listed(seen + public)
        return ActivePage(entries[offset : offset + limit], len(entries) > offset + limit)

    async def _chunk(
        self, user_id: uuid.UUID, now: datetime, position: int, count: int, *, personal: bool
    ) -> _Chunk | None:
        reply = await self.scripts.active_chunk(
            keys=[
                keys.BUILT,
                keys.user(user_id),
                keys.user_codes(user_id),
                keys.user_groups(user_id),
                keys.PUBLIC_CODES,
                keys.user_uses(user_id),
            ],
            args=[
                keys.GROUP_PREFIX,
                keys.CODES_SUFFIX,
                keys.CODE_PREFIX,
                f"({now.timestamp()!r}",
                position,
                count,
                "1" if personal else "0",
            ],
        )
        if reply[0] == 0:
            return None
        status, scanned, n_personal, rest = reply[1] or None, reply[2], reply[3], reply[4:]
        candidates = [
            Candidate(code_view(rest[i + 1], int(rest[i + 2])), int(rest[i + 3]))
            for i in range(0, len(rest), 4)
        ]
        return _Chunk(status, candidates[:n_personal], candidates[n_personal:], scanned)

    async def purchases(self, user_id: uuid.UUID, limit: int, offset: int) -> list[dict] | None:
        reply = await self.scripts.user_purchases(
            keys=[keys.BUILT, keys.user_purchases(user_id), keys.user_purchase_data(user_id)],
            args=[offset, limit],
        )
        if reply[0] == 0:
            return None
        return [json.loads(data[1:]) for data in reply[1:]]  # after the rank digit

    async def is_built(self) -> bool:
        return bool(await self.redis.exists(keys.BUILT))
