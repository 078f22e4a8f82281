"""At-least-once delivery against the projector: duplicates, reordering, poison events."""

import json
import uuid
from datetime import UTC, datetime

from core.streams import LOYALTY_EVENTS, Envelope, entry_fields
from loyalty.domain import events
from loyalty.read import keys
from loyalty.read.postgres import CodeFilter
from query_api.schemas import PromocodeOut
from tests.support import loyalty_writes as w
from tests.support.factories import (
    create_batch,
    create_loyalty_user,
    create_promocode,
    create_tariff,
)
from tests.support.read_side import GROUPS, ReadSideDriver, disabled_code


async def listed(side: ReadSideDriver, user_id: uuid.UUID, code: str) -> dict | None:
    return {c["code"]: c for c in await side.active(user_id)}.get(code)


def envelope_of(fields: dict[str, str]) -> Envelope:
    return Envelope.from_entry(LOYALTY_EVENTS, "0-0", fields)


async def test_the_same_use_delivered_twice_is_counted_once(side):
    user = await create_loyalty_user()
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=10, per_user_limit=3)
    await side.settle()
    purchase = await w.reserve(user, promo, tariff)
    await side.settle()
    once = await listed(side, user, promo.code)

    # The relay crashed between XADD and marking the row: the entry is published again.
    [reserved] = await side.entries(events.PURCHASE_RESERVED, purchase.purchase_id)
    await side.redis.xadd(LOYALTY_EVENTS, reserved)
    await side.settle()
    assert await listed(side, user, promo.code) == once
    assert (once["uses_left_total"], once["uses_left_for_you"]) == (9, 2)


async def test_replaying_every_event_of_a_code_changes_nothing(side):
    user = await create_loyalty_user()
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=10, per_user_limit=3)
    first = await w.reserve(user, promo, tariff)
    await w.reserve(user, promo, tariff)
    await w.cancel(first)
    await side.settle()
    before = await listed(side, user, promo.code)
    detail = await side.reads.code(promo.id)

    replay = []
    for type in (events.PURCHASE_RESERVED, events.PURCHASE_CANCELLED):
        for purchase_id in (first.purchase_id,):
            replay += await side.entries(type, purchase_id)
    replay += await side.entries(events.PROMOCODE_CREATED, promo.id)
    for fields in replay:
        await side.projector.handle(envelope_of(fields))
    assert await listed(side, user, promo.code) == before
    assert await side.reads.code(promo.id) == detail
    assert (before["uses_left_total"], before["uses_left_for_you"]) == (9, 2)


async def test_an_older_counter_arriving_late_does_not_win(side):
    """Two uses committed in one order, delivered in the other: the newest version wins."""
    user, other = await create_loyalty_user(), await create_loyalty_user()
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=10, per_user_limit=None)
    await side.settle()
    first = await w.reserve(user, promo, tariff)
    second = await w.reserve(other, promo, tariff)
    await side.settle()
    [older] = await side.entries(events.PURCHASE_RESERVED, first.purchase_id)
    [newer] = await side.entries(events.PURCHASE_RESERVED, second.purchase_id)
    # Deliver both again with fresh event ids (so dedupe does not hide the reordering).
    for fields in (newer, older):
        await side.projector.handle(envelope_of({**fields, "event_id": str(uuid.uuid4())}))
    assert (await side.reads.code(promo.id))["uses"] == 2
    assert (await listed(side, user, promo.code))["uses_left_total"] == 8


async def test_an_older_snapshot_arriving_late_does_not_undo_a_change(side):
    user = await create_loyalty_user()
    promo = await disabled_code(side)
    [created] = await side.entries(events.PROMOCODE_CREATED, promo.id)
    await side.projector.handle(envelope_of({**created, "event_id": str(uuid.uuid4())}))
    assert await listed(side, user, promo.code) is None
    assert (await side.reads.code(promo.id))["is_active"] is False


async def test_a_paid_purchase_is_not_turned_back_into_pending_by_a_late_reservation(side):
    user = await create_loyalty_user()
    tariff = await create_tariff()
    promo = await create_promocode()
    purchase = await w.reserve(user, promo, tariff)
    await w.cancel(purchase)
    await side.settle()
    [reserved] = await side.entries(events.PURCHASE_RESERVED, purchase.purchase_id)
    await side.projector.handle(envelope_of({**reserved, "event_id": str(uuid.uuid4())}))
    [mine] = [
        p for p in await side.reads.purchases(user, 10, 0) if p["id"] == str(purchase.purchase_id)
    ]
    assert mine["status"] == "cancelled"


async def test_a_poison_event_goes_to_the_dlq_and_the_next_one_is_still_applied(side):
    user = await create_loyalty_user()
    poison = entry_fields(
        uuid.uuid4(),
        events.PROMOCODE_CREATED,
        datetime.now(UTC),
        "999999",
        {"id": 999999, "code": "POISON"},  # no fields: the projection cannot apply it
    )
    poison_id = await side.redis.xadd(LOYALTY_EVENTS, poison)
    promo = await create_promocode()
    await side.settle()

    assert await listed(side, user, promo.code) is not None
    group = GROUPS[LOYALTY_EVENTS]
    dead = [f for _id, f in await side.redis.xrange(f"{LOYALTY_EVENTS}.dlq")]
    [ours] = [f for f in dead if f["source_id"] == poison_id and f["group"] == group]
    assert json.loads(ours["payload"]) == {"id": 999999, "code": "POISON"}
    pending = await side.redis.xpending_range(
        LOYALTY_EVENTS, group, min=poison_id, max=poison_id, count=1
    )
    assert pending == []


async def test_failures_are_counted_by_reason_once_per_attempt(side):
    user = await create_loyalty_user()
    promo = await create_promocode(max_uses=1)
    await w.reject(user, promo, "promocode_exhausted", promo.code.lower())
    await w.reject(user, promo, "promocode_exhausted", promo.code)
    attempt = await w.reject(user, promo, "user_limit_reached", promo.code)
    await w.reject(user, None, "promocode_not_found", "NO-SUCH-CODE")
    await side.settle()
    [again] = await side.entries(events.PROMOCODE_REJECTED, attempt)
    await side.redis.xadd(LOYALTY_EVENTS, again)
    await side.settle()
    detail = await side.reads.code(promo.id)
    assert detail["failures"] == {"promocode_exhausted": 2, "user_limit_reached": 1}
    assert detail["failures_total"] == 3


async def test_a_generated_batch_keeps_nothing_in_redis_and_operators_page_it_from_postgres(
    side,
):
    batch_id = (await create_batch(25)).batch_id
    await side.settle()
    page, has_more = await side.reads.codes(CodeFilter(batch_id=batch_id, limit=20))
    rest, no_more = await side.reads.codes(CodeFilter(batch_id=batch_id, limit=20, offset=20))
    assert len(page) == 20 and has_more
    assert len(rest) == 5 and not no_more
    assert {c["batch_id"] for c in page + rest} == {str(batch_id)}
    assert all(PromocodeOut.model_validate(c).uses_left_total == 1 for c in page + rest)
    assert not await side.redis.exists(*[keys.code(c["id"]) for c in page + rest])


async def test_a_batch_code_is_projected_when_assigned_and_its_later_changes_follow(side):
    user = await create_loyalty_user()
    batch_id = (await create_batch(2)).batch_id
    await side.settle()
    [first, second], _ = await side.reads.codes(CodeFilter(batch_id=batch_id))
    await w.update_code(first["id"], value=20)  # before any assignment: not projected
    await side.settle()
    assert not await side.redis.exists(keys.code(first["id"]))

    await w.assign(first["id"], user_ids=[user])
    await side.settle()
    assert (await listed(side, user, first["code"]))["value"] == 20
    await w.update_code(first["id"], is_active=False)
    await side.settle()
    assert await listed(side, user, first["code"]) is None
    assert not await side.redis.exists(keys.code(second["id"]))
