"""Applying one event of `loyalty.events` or `auth.users` to the read models.

Every change is one Lua script that also records the event id (see `scripts`), so an event
applied twice changes nothing and the runner acknowledges it only after the script ran.
"""

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from core.streams import Envelope
from loyalty.domain import events, rules
from loyalty.domain.enums import PurchaseStatus
from loyalty.read import keys
from loyalty.read.scripts import Scripts

SEEN_TTL_SECONDS = 7 * 24 * 3600
# Where a script runs: the client itself, or a pipeline it is part of (rebuilds, batches).
Client = Redis | Pipeline | None
# A purchase only moves forward: pending, then paid or cancelled. A late `reserved` replay
# must not turn a paid purchase back into a pending one.
PURCHASE_RANK = {PurchaseStatus.pending: 1, PurchaseStatus.paid: 2, PurchaseStatus.cancelled: 2}


class NotBuilt(Exception):
    """The read model is missing (Redis lost its memory or a rebuild runs): rebuild first."""


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def epoch(iso: str | datetime) -> float:
    moment = datetime.fromisoformat(iso) if isinstance(iso, str) else iso
    return moment.timestamp()


def _is_public(snapshot: dict[str, Any]) -> bool:
    return rules.is_public(snapshot["audience"], snapshot.get("batch_id"), snapshot["is_active"])


class Projection:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.scripts = Scripts(redis)

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
            events.TARIFF_CREATED: self._tariff,
            events.TARIFF_UPDATED: self._tariff,
            events.PROMOCODE_CREATED: self._code,
            events.PROMOCODE_UPDATED: self._code,
            events.PROMOCODE_ASSIGNED: self._assignment,
            events.PROMOCODE_UNASSIGNED: self._assignment,
            events.GROUP_CREATED: self._group,
            events.GROUP_MEMBERS_ADDED: self._members,
            events.GROUP_MEMBERS_REMOVED: self._members,
            events.PURCHASE_RESERVED: self._purchase,
            events.PURCHASE_PAID: self._purchase,
            events.PURCHASE_CANCELLED: self._purchase,
            events.PROMOCODE_REJECTED: self._rejection,
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
        """Stores a code's snapshot (fields and counters, each only if newer)."""
        code_id = snapshot["id"]
        batch_id = snapshot.get("batch_id")
        fields = {k: v for k, v in snapshot.items() if k not in ("uses", "version")}
        return await self.run(
            self.scripts.upsert_code,
            event_id,
            [
                keys.code(code_id),
                keys.CODES,
                keys.PUBLIC_CODES,
                keys.batch(batch_id or "-"),
                keys.code_id_by_text(snapshot["code"]),
            ],
            [
                code_id,
                to_json(fields),
                snapshot["version"],
                snapshot["uses"],
                "1" if _is_public(snapshot) else "0",
                "1" if batch_id else "0",
                snapshot["code"].upper(),
                keys.CODE_ID_PREFIX,
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
                keys.purchase(payload["id"]),
                keys.user_purchases(payload["user_id"]),
                keys.code(code_id if code_id is not None else "-"),
                keys.user_uses(payload["user_id"]),
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

    # -- one applier per event type -------------------------------------------------------

    async def _tariff(self, event_id: str, payload: dict, _: Envelope) -> bool:
        return await self.run(
            self.scripts.hash_set, event_id, [keys.TARIFFS], [payload["id"], to_json(payload)]
        )

    async def _code(self, event_id: str, payload: dict, _: Envelope) -> bool:
        return await self.upsert_code(event_id, payload)

    async def _assignment(self, event_id: str, payload: dict, envelope: Envelope) -> bool:
        targets = [keys.user_codes(u) for u in payload.get("user_ids", [])]
        targets += [keys.group_codes(g) for g in payload.get("group_ids", [])]
        op = "SADD" if envelope.type == events.PROMOCODE_ASSIGNED else "SREM"
        return await self._set_member(event_id, op, targets, payload["promocode_id"])

    async def _group(self, event_id: str, payload: dict, _: Envelope) -> bool:
        return await self.run(
            self.scripts.hash_set, event_id, [keys.GROUPS], [payload["id"], to_json(payload)]
        )

    async def _members(self, event_id: str, payload: dict, envelope: Envelope) -> bool:
        targets = [keys.user_groups(u) for u in payload["user_ids"]]
        op = "SADD" if envelope.type == events.GROUP_MEMBERS_ADDED else "SREM"
        return await self._set_member(event_id, op, targets, payload["group_id"])

    async def _purchase(self, event_id: str, payload: dict, _: Envelope) -> bool:
        return await self.put_purchase(event_id, payload)

    async def _rejection(self, event_id: str, payload: dict, _: Envelope) -> bool:
        code_id = payload.get("promocode_id")
        if code_id is None:
            # Typed codes that do not exist are in the attempts log only.
            return await self.run(self.scripts.mark_seen, event_id, [], [])
        return await self.run(
            self.scripts.count_rejection,
            event_id,
            [keys.code_failures(code_id), keys.ATTEMPTS_WATERMARK],
            [payload["reason"], payload["attempt_id"]],
        )

    async def _user_status(self, event_id: str, payload: dict, envelope: Envelope) -> bool:
        return await self.run(
            self.scripts.user_status,
            event_id,
            [keys.user(payload["user_id"])],
            [rules.user_status_after(envelope.type), epoch(envelope.occurred_at)],
        )

    async def _set_member(
        self, event_id: str, op: str, targets: Iterable[str], member: object
    ) -> bool:
        return await self.run(self.scripts.set_member, event_id, list(targets), [op, member])

    async def mark_seen(self, event_id: str) -> bool:
        return await self.run(self.scripts.mark_seen, event_id, [], [])
