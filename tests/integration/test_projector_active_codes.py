"""Each change of the write side shows up in the user's active codes, through the real relay,
stream, consumer group and projector (in-process), read back with query_api's read use case."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic_core import to_jsonable_python

from loyalty.domain import errors, rules
from loyalty.read import keys
from loyalty.read.postgres import CodeFilter
from tests.support import loyalty_writes as w
from tests.support.factories import (
    create_batch,
    create_group,
    create_loyalty_user,
    create_promocode,
    create_tariff,
)
from tests.support.read_side import ReadSideDriver, disabled_code


async def active(side: ReadSideDriver, user_id: uuid.UUID) -> dict[str, dict]:
    return {c["code"]: c for c in await side.active(user_id)}


async def test_a_public_code_is_listed_with_its_counters(side):
    user = await create_loyalty_user()
    tariff_ids = sorted([(await create_tariff()).id, (await create_tariff()).id])
    promo = await create_promocode(max_uses=10, per_user_limit=2, tariff_ids=tariff_ids)
    await side.settle()
    listed = (await active(side, user))[promo.code]
    assert listed == {
        "code": promo.code,
        "discount_type": "percent",
        "value": 10,
        "valid_from": to_jsonable_python(promo.valid_from),
        "valid_until": to_jsonable_python(promo.valid_until),
        "tariff_ids": tariff_ids,
        "uses_left_for_you": 2,
        "uses_left_total": 10,
    }


async def test_unlimited_counters_are_null(side):
    user = await create_loyalty_user()
    promo = await create_promocode(max_uses=None, per_user_limit=None, valid_until=None)
    await side.settle()
    listed = (await active(side, user))[promo.code]
    assert listed["uses_left_total"] is None
    assert listed["uses_left_for_you"] is None
    assert listed["valid_until"] is None


async def test_a_use_lowers_both_counters_and_a_cancel_gives_it_back(side):
    user, other = await create_loyalty_user(), await create_loyalty_user()
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=5, per_user_limit=2)
    await side.settle()

    purchase = await w.reserve(user, promo, tariff)
    await side.settle()
    mine, theirs = (await active(side, user))[promo.code], (await active(side, other))[promo.code]
    assert (mine["uses_left_for_you"], mine["uses_left_total"]) == (1, 4)
    assert (theirs["uses_left_for_you"], theirs["uses_left_total"]) == (2, 4)

    await w.cancel(purchase)
    await side.settle()
    mine = (await active(side, user))[promo.code]
    assert (mine["uses_left_for_you"], mine["uses_left_total"]) == (2, 5)


async def test_a_code_used_up_by_the_user_disappears_for_them_only(side):
    user, other = await create_loyalty_user(), await create_loyalty_user()
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=None, per_user_limit=1)
    await side.settle()
    await w.reserve(user, promo, tariff)
    await side.settle()
    assert promo.code not in await active(side, user)
    assert promo.code in await active(side, other)


async def test_an_exhausted_code_disappears_for_everyone(side):
    user, other = await create_loyalty_user(), await create_loyalty_user()
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=1, per_user_limit=None)
    await side.settle()
    await w.reserve(user, promo, tariff)
    await side.settle()
    assert promo.code not in await active(side, other)


async def test_a_used_up_public_code_leaves_the_public_set_and_a_cancel_brings_it_back(side):
    """So no page pays for reading codes nobody can use (`scripts._PLACE`), in the same terms
    as `rules.uses_left`."""
    user, other = await create_loyalty_user(), await create_loyalty_user()
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=1, per_user_limit=None)
    unlimited = await create_promocode(max_uses=None, per_user_limit=None)
    await side.settle()

    async def in_public_set(code) -> bool:
        return await side.redis.zscore(keys.PUBLIC_CODES, f"{code.code} {code.id}") is not None

    assert await in_public_set(promo) and await in_public_set(unlimited)
    purchase = await w.reserve(user, promo, tariff)
    await w.reserve(user, unlimited, tariff)
    await side.settle()
    assert rules.uses_left(promo.max_uses, 1) == 0
    assert not await in_public_set(promo)
    assert await in_public_set(unlimited)
    await w.cancel(purchase)
    await side.settle()
    assert await in_public_set(promo)
    assert promo.code in await active(side, other)


async def test_an_assigned_code_shows_only_for_its_user(side):
    user, other = await create_loyalty_user(), await create_loyalty_user()
    promo = await create_promocode(audience="assigned")
    await side.settle()
    assert promo.code not in await active(side, user)
    await w.assign(promo.id, user_ids=[user])
    await side.settle()
    assert promo.code in await active(side, user)
    assert promo.code not in await active(side, other)


async def test_group_membership_brings_and_takes_the_groups_codes(side):
    user = await create_loyalty_user()
    group = (await create_group()).id
    promo = await create_promocode(audience="assigned")
    await w.assign(promo.id, group_ids=[group])
    await side.settle()
    assert promo.code not in await active(side, user)

    await w.add_members(group, user)
    await side.settle()
    assert promo.code in await active(side, user)

    await w.remove_members(group, user)
    await side.settle()
    assert promo.code not in await active(side, user)


async def test_a_disabled_code_disappears_and_comes_back_when_enabled(side):
    user = await create_loyalty_user()
    promo = await disabled_code(side)
    assert promo.code not in await active(side, user)
    await w.update_code(promo.id, is_active=True)
    await side.settle()
    assert promo.code in await active(side, user)


async def test_a_blocked_user_sees_nothing_until_unblocked(side):
    user = await create_loyalty_user()
    promo = await create_promocode()
    await side.settle()
    assert promo.code in await active(side, user)

    await w.set_user_status(user, "user.blocked")
    await side.settle()
    assert await active(side, user) == {}

    await w.set_user_status(user, "user.unblocked")
    await side.settle()
    assert promo.code in await active(side, user)


async def test_batch_codes_are_not_advertised_unless_assigned(side):
    user = await create_loyalty_user()
    batch_id = (await create_batch(3)).batch_id
    await side.settle()
    listed = await side.reads.codes(CodeFilter(batch_id=batch_id, limit=10))
    batch_codes = [c["code"] for c in listed[0]]
    assert len(batch_codes) == 3
    assert not set(batch_codes) & set(await active(side, user))

    first = listed[0][0]
    await w.assign(first["id"], user_ids=[user])
    await side.settle()
    assert first["code"] in await active(side, user)


async def test_time_window_is_evaluated_at_read_time_without_any_event(side):
    """The read model stores each code's window, not whether it is open: the same stored
    candidates answer differently at a later moment, with no event in between. The later
    moment is passed in (as ReadSide passes the clock's), so nothing waits for time to pass."""
    user = await create_loyalty_user()
    now = datetime.now(UTC)
    starting = await create_promocode(valid_from=now + timedelta(hours=1))
    ending = await create_promocode(
        valid_from=now - timedelta(hours=1), valid_until=now + timedelta(hours=1)
    )
    await side.settle()
    before = await active(side, user)
    assert starting.code not in before and ending.code in before

    later = now + timedelta(hours=2)
    after = {c["code"] for c in await side.active(user, now=later)}
    assert starting.code in after and ending.code not in after


async def test_a_user_unknown_to_the_loyalty_side_is_listed_nothing_as_a_use_refuses_them(side):
    stranger = uuid.uuid4()  # registered in auth, not synced yet
    tariff = await create_tariff()
    promo = await create_promocode()
    await side.settle()
    assert await active(side, stranger) == {}
    with pytest.raises(errors.UserNotEligible):
        await w.reserve(stranger, promo, tariff)
