"""Rebuilding the read models from Postgres: after Redis lost everything, answers are the same."""

import asyncio
import os
import subprocess
import sys
import uuid

from loyalty.read import keys
from loyalty.read.rebuild import ensure_built
from scripts.environments import TEST_ENV
from tests.support import loyalty_writes as w
from tests.support.factories import (
    create_group,
    create_loyalty_user,
    create_promocode,
    create_tariff,
)
from tests.support.read_side import ReadSideDriver


async def scenario(side: ReadSideDriver) -> dict:
    """Users with assigned, group and public codes, uses, a cancel, failures, a blocked user."""
    buyer, member, blocked = [await create_loyalty_user() for _ in range(3)]
    tariff = await create_tariff()
    public = await create_promocode(max_uses=100, per_user_limit=3)
    personal = await create_promocode(audience="assigned", per_user_limit=2)
    for_group = await create_promocode(audience="assigned", max_uses=5)
    disabled = await create_promocode()
    group = (await create_group(member)).id
    await w.assign(personal.id, user_ids=[buyer])
    await w.assign(for_group.id, group_ids=[group])
    await w.update_code(disabled.id, is_active=False)
    first = await w.reserve(buyer, public, tariff)
    await w.reserve(buyer, personal, tariff)
    await w.reserve(member, for_group, tariff)
    await w.cancel(first)
    await w.reject(buyer, public, "tariff_not_eligible", public.code)
    await w.set_user_status(blocked, "user.blocked")
    await side.settle()
    codes = [public, personal, for_group, disabled]
    return {
        "users": [buyer, member, blocked],
        "codes": [c.id for c in codes],
        "texts": {c.code for c in codes},
    }


async def active(side: ReadSideDriver, world: dict, user_id: uuid.UUID) -> list[dict]:
    """Only this scenario's codes: other tests may write rows without events (no projection)."""
    return [c for c in await side.active(user_id) if c["code"] in world["texts"]]


async def operator_view(side: ReadSideDriver, code_id: int) -> dict:
    """A code as operators read it: every field, `updated_at` included (a use changes the
    counters, not the code's terms, so it leaves `updated_at` alone)."""
    return await side.reads.code(code_id)


async def answers(side: ReadSideDriver, world: dict) -> dict:
    return {
        "active": [await active(side, world, u) for u in world["users"]],
        "purchases": [await side.reads.purchases(u, 50, 0) for u in world["users"]],
        "codes": [await operator_view(side, c) for c in world["codes"]],
    }


async def test_after_redis_lost_everything_buyers_get_the_same_answers_and_the_model_comes_back(
    side,
):
    world = await scenario(side)
    before = await answers(side, world)
    assert before["active"][0] and before["active"][1] and before["active"][2] == []

    await side.redis.flushdb()  # Redis restarted without data (our own test database only)
    during = {
        "active": [await active(side, world, u) for u in world["users"]],
        "purchases": [await side.reads.purchases(u, 50, 0) for u in world["users"]],
    }
    assert during["active"] == before["active"], "answered from Postgres while rebuilding"
    assert during["purchases"] == before["purchases"]

    await side.reads.start_rebuild()
    assert await side.redis.exists(keys.BUILT)
    assert await answers(side, world) == before


async def test_the_projector_rebuilds_an_empty_redis_before_applying_the_next_event(side):
    world = await scenario(side)
    before = await answers(side, world)
    await side.redis.flushdb()
    user = await create_loyalty_user()
    promo = await create_promocode(audience="assigned")
    await w.assign(promo.id, user_ids=[user])
    await side.settle()
    assert await side.redis.exists(keys.BUILT)
    assert await answers(side, world) == before
    assert [c["code"] for c in await side.active(user)].count(promo.code) == 1


async def test_workers_rebuild_command_rebuilds_every_model(side):
    world = await scenario(side)
    before = await answers(side, world)
    await side.redis.delete(*[k async for k in side.redis.scan_iter(match="rm:code:*")])
    await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "workers", "rebuild"],
        env={**os.environ, **TEST_ENV},
        check=True,
        timeout=120,
    )
    assert await answers(side, world) == before


async def test_only_one_of_many_concurrent_callers_rebuilds(side):
    await side.redis.delete(keys.BUILT)
    results = await asyncio.gather(*(ensure_built(side.redis, side.engine) for _ in range(5)))
    assert sorted(results) == [False, False, False, False, True]
    assert await side.redis.exists(keys.BUILT)


async def test_dedupe_survives_a_rebuild(side):
    """An event applied before a rebuild and delivered again after it stays applied once."""
    user = await create_loyalty_user()
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=10)
    purchase = await w.reserve(user, promo, tariff)
    await side.settle()
    await ensure_built(side.redis, side.engine, force=True)
    [reserved] = await side.entries("purchase.reserved", purchase.purchase_id)
    await side.redis.xadd("loyalty.events", reserved)
    await side.settle()
    assert (await side.reads.code(promo.id))["uses"] == 1
    assert str(uuid.UUID(reserved["event_id"]))
