"""Reading the read models. `None` from a reader means "not built": the caller falls back."""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis

from core.security import Unconfirmed
from loyalty.domain import rules
from loyalty.read import keys
from loyalty.read.active import ActivePage, Candidate, code_view, visible
from loyalty.read.scripts import Scripts

# Public codes read per round trip: at first what the page needs and a quarter more (codes
# the user may not use, e.g. used up or not started yet, are skipped: one such code would
# otherwise cost a second round trip), doubled while the page is not full, up to the largest.
FIRST_CHUNK, LARGEST_CHUNK = 32, 1024


@dataclass(frozen=True)
class _Chunk:
    status: str | None
    personal: list[Candidate]
    public: list[Candidate]
    scanned: int


def _built(reply: list, caller: Unconfirmed | None) -> list | None:
    """What follows the marker and the denylist values in a buyer script's reply, None when
    the read model is not built; raises `TokenRevoked` first when the caller's token is."""
    denied = reply[2 : 2 + reply[1]]
    if caller is not None:
        caller.confirm(*denied)
    return reply[2 + reply[1] :] if reply[0] else None


class ReadModels:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.scripts = Scripts(redis)

    async def active_page(
        self,
        user_id: uuid.UUID,
        now: datetime,
        limit: int,
        offset: int,
        caller: Unconfirmed | None = None,
    ) -> ActivePage | None:
        """One page of the user's listing. Reads the codes assigned to the user and their
        groups, and the public codes in the listing's order from the first not yet expired,
        only until `offset + limit + 1` of them are visible: the cost follows the page, not
        the number of codes in the system. `caller`: its revocation is checked in the first
        round trip (raises `TokenRevoked`), even when the read model is not built."""
        need = offset + limit + 1
        count = max(FIRST_CHUNK, min(need + need // 4, LARGEST_CHUNK))
        first = await self._chunk(user_id, now, 0, count, personal=True, caller=caller)
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
        # Without personal codes the public ones came in the listing's order already.
        return ActivePage.of(seen + public, limit, offset, ordered=not seen)

    async def _chunk(
        self,
        user_id: uuid.UUID,
        now: datetime,
        position: int,
        count: int,
        *,
        personal: bool,
        caller: Unconfirmed | None = None,
    ) -> _Chunk | None:
        reply = await self.scripts.active_chunk(
            keys=[
                keys.BUILT,
                keys.user(user_id),
                keys.user_codes(user_id),
                keys.user_groups(user_id),
                keys.PUBLIC_CODES,
                keys.user_uses(user_id),
                *(caller.revocation_keys if caller else ()),
            ],
            args=[f"({now.timestamp()!r}", position, count, "1" if personal else "0"],
        )
        rest = _built(reply, caller)
        if rest is None:
            return None
        status, scanned, n_personal, rest = rest[0] or None, rest[1], rest[2], rest[3:]
        # (view, user's uses) pairs built without a Python call per code but the cached view's
        candidates = list(zip(map(code_view, rest[0::3], rest[1::3]), rest[2::3], strict=True))
        return _Chunk(status, candidates[:n_personal], candidates[n_personal:], scanned)

    async def purchases(
        self, user_id: uuid.UUID, limit: int, offset: int, caller: Unconfirmed | None = None
    ) -> list[dict] | None:
        """The user's purchases, newest first; `caller` as in `active_page`."""
        reply = await self.scripts.user_purchases(
            keys=[
                keys.BUILT,
                keys.user_purchases(user_id),
                keys.user_purchase_data(user_id),
                *(caller.revocation_keys if caller else ()),
            ],
            args=[offset, limit],
        )
        found = _built(reply, caller)
        if found is None:
            return None
        return [json.loads(data[1:]) for data in found]  # after the rank digit

    async def is_built(self) -> bool:
        return bool(await self.redis.exists(keys.BUILT))
