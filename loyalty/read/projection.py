"""Applying one event of `loyalty.events` or `auth.users` to the read models.

Every change is one Lua script that also records the event id (see `scripts`), so an event
applied twice changes nothing and the runner acknowledges it only after the script ran.

Only what a buyer's read needs is projected: codes that can be listed (not generated in a
batch, or a batch code once it is assigned), the audience, user statuses, uses and
purchases. Tariffs, groups, rejections and batches are read by operators from Postgres, so
their events are of no interest here; a generated batch costs the projector nothing.
"""

import json
import math
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from core.streams import Envelope
from loyalty.domain import events, rules
from loyalty.domain.enums import PurchaseStatus
from loyalty.read import keys
from loyalty.read.active import LISTING_FIELDS
from loyalty.read.scripts import Scripts

SEEN_TTL_SECONDS = 7 * 24 * 3600
# Where a script runs: the client itself, or a pipeline it is part of (rebuilds).
Client = Redis | Pipeline | None
# A purchase only moves forward: pending, then paid or cancelled. A late `reserved` replay
# must not turn a paid purchase back into a pending one.
PURCHASE_RANK = {PurchaseStatus.pending: 1, PurchaseStatus.paid: 2, PurchaseStatus.cancelled: 2}
# Reads a code's snapshot from Postgres by id (a batch code is projected when assigned).
CodeLoader = Callable[[int], Awaitable[dict[str, Any] | None]]


class NotBuilt(Exception):
    """The read model is missing (Redis lost its memory or a rebuild runs): rebuild first."""


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def epoch(iso: str | datetime) -> float:
    moment = datetime.fromisoformat(iso) if isinstance(iso, str) else iso
    return moment.timestamp()


def listing_snapshot(snapshot: dict[str, Any]) -> dict[str, Any]:
    """What the listing reads of a code (`active.LISTING_FIELDS`): the rest stays in Postgres."""
    return {name: snapshot[name] for name in LISTING_FIELDS}


def ends_at(snapshot: dict[str, Any]) -> float:
    """The score of a public code: the end of its validity, never-ending codes last."""
    until = snapshot["valid_until"]
    return math.inf if until is None else epoch(until)


def _is_public(snapshot: dict[str, Any]) -> bool:
    return rules.is_public(snapshot["audience"], snapshot.get("batch_id"), snapshot["is_active"])


def _signed(versions: Iterable[int], present: bool) -> list[int]:
    return [v if present else -v for v in versions]


class Projection:
    def __init__(self, redis: Redis, load_code: CodeLoader | None = None) -> None:
        self.redis = redis
        self.scripts = Scripts(redis)
        self.load_code = load_code

    async def apply(self, envelope: Envelope) -> bool:
        """Applies one event; False when it had been applied before or is of no interest.

        Raises `NotBuilt` when the read model is missing: rebuild, then apply again.
        """
        apply = self._appliers().get(envelope.type)
        if apply is None:
            return False
        return await apply(envelope.event_id, envelope.payload, envelope)

    def _appliers(self):
        return {
            events.PROMOCODE_CREATED: self._code,
            events.PROMOCODE_UPDATED: self._code,
            events.PROMOCODE_ASSIGNED: self._assignment,
            events.PROMOCODE_UNASSIGNED: self._assignment,
            events.GROUP_MEMBERS_ADDED: self._members,
            events.GROUP_MEMBERS_REMOVED: self._members,
            events.PURCHASE_RESERVED: self._purchase,
            events.PURCHASE_PAID: self._purchase,
            events.PURCHASE_CANCELLED: self._purchase,
            **dict.fromkeys(rules.USER_STATUS_BY_AUTH_EVENT, self._user_status),
        }

    # -- the scripts, in event mode (event_id given) or load mode (None) ----------------

    async def run(
        self, script, event_id: str | None, script_keys: list[str], args: list, via: Client = None
    ) -> bool:
        mode = "event" if event_id else "load"
        result = await script(
            keys=[keys.BUILT, keys.seen(event_id or "-"), *script_keys],
            args=[mode, SEEN_TTL_SECONDS, *args],
            client=via,
        )
        if isinstance(result, Pipeline):
            return True
        if result == -1:
            raise NotBuilt
        return result == 1

    async def upsert_code(self, event_id: str | None, snapshot: dict, via: Client = None) -> bool:
        """Stores a code's listing snapshot and counters, each only if newer. A batch code's
        change is stored only once the code is there (it was assigned: see `_assignment`)."""
        return await self.run(
            self.scripts.upsert_code,
            event_id,
            [keys.code(snapshot["id"]), keys.PUBLIC_CODES],
            [
                snapshot["id"],
                to_json(listing_snapshot(snapshot)),
                snapshot["version"],
                snapshot["uses"],
                "1" if _is_public(snapshot) else "0",
                snapshot["code"],
                ends_at(snapshot),
                "1" if snapshot.get("batch_id") and event_id else "0",
                "" if snapshot["max_uses"] is None else snapshot["max_uses"],
            ],
            via,
        )

    async def put_purchase(self, event_id: str | None, payload: dict, via: Client = None) -> bool:
        data = {k: v for k, v in payload.items() if k not in events.PURCHASE_COUNTERS}
        code_id = payload.get("promocode_id")
        version = payload.get("promocode_version")
        has_counters = code_id is not None and version is not None
        return await self.run(
            self.scripts.apply_purchase,
            event_id,
            [
                keys.user_purchase_data(payload["user_id"]),
                keys.user_purchases(payload["user_id"]),
                keys.code(code_id if code_id is not None else "-"),
                keys.user_uses(payload["user_id"]),
                keys.PUBLIC_CODES,
            ],
            [
                payload["id"],
                to_json(data),
                PURCHASE_RANK[PurchaseStatus(payload["status"])],
                epoch(payload["created_at"]),
                "1" if has_counters else "0",
                version or 0,
                payload.get("promocode_uses") or 0,
                payload.get("user_uses") or 0,
                code_id if code_id is not None else "-",
            ],
            via,
        )

    async def audience(
        self, event_id: str | None, hashes: list[str], field: object, versions: list[int]
    ) -> bool:
        """Sets `field` in each hash to its signed version where newer than the one held."""
        return await self.run(self.scripts.audience, event_id, hashes, [field, *versions])

    # -- one applier per event type -------------------------------------------------------

    async def _code(self, event_id: str, payload: dict, _: Envelope) -> bool:
        return await self.upsert_code(event_id, payload)

    async def _assignment(self, event_id: str, payload: dict, envelope: Envelope) -> bool:
        present = envelope.type == events.PROMOCODE_ASSIGNED
        code_id = payload["promocode_id"]
        if present and self.load_code is not None:
            await self._ensure_code(code_id)
        hashes = [keys.user_codes(u) for u in payload["user_ids"]]
        hashes += [keys.group_codes(g) for g in payload["group_ids"]]
        versions = [*payload["user_versions"], *payload["group_versions"]]
        return await self.audience(event_id, hashes, code_id, _signed(versions, present))

    async def _ensure_code(self, code_id: int) -> None:
        """A code given to someone can be listed: a batch code, never projected so far, is
        read from Postgres now (its current row; later changes are newer versions)."""
        if await self.redis.hexists(keys.code(code_id), "s"):
            return
        snapshot = await self.load_code(code_id)
        if snapshot is not None:
            await self.upsert_code(None, snapshot)

    async def _members(self, event_id: str, payload: dict, envelope: Envelope) -> bool:
        present = envelope.type == events.GROUP_MEMBERS_ADDED
        hashes = [keys.user_groups(u) for u in payload["user_ids"]]
        versions = _signed(payload["versions"], present)
        return await self.audience(event_id, hashes, payload["group_id"], versions)

    async def _purchase(self, event_id: str, payload: dict, _: Envelope) -> bool:
        return await self.put_purchase(event_id, payload)

    async def _user_status(self, event_id: str, payload: dict, envelope: Envelope) -> bool:
        return await self.run(
            self.scripts.user_status,
            event_id,
            [keys.user(payload["user_id"])],
            [rules.user_status_after(envelope.type), epoch(envelope.occurred_at)],
        )
