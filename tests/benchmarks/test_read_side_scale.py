"""The read side at scale (issue 11): each test prints its figures next to the issue's target.

- A purchase made while a large batch is generated shows in `GET /purchases` within 1 s
  (p99 of at least 50 samples), on the real processes.
- A rebuild of 1,000,000 codes and 100,000 purchases takes <= 30 s, buyers are answered
  throughout and nothing written meanwhile is lost; Redis bytes per code and per purchase;
  the listing's p99 with 10 public codes and with 10,000 more.

The sizes are environment variables (`READ_BENCH_BATCH`, `READ_BENCH_CODES`,
`READ_BENCH_PURCHASES`); every row a test seeds is deleted at its end.
"""

import asyncio
import os
import threading
import time
import uuid

import asyncpg
import httpx
import pytest

from core.config import get_settings
from core.db import asyncpg_dsn
from loyalty.read import keys
from loyalty.read.rebuild import ensure_built, rebuild_read_models
from tests.benchmarks.test_read_your_write import percentile, report, setup_buyer, use
from tests.support import loyalty_writes as w
from tests.support.db import sql
from tests.support.factories import bearer, create_loyalty_user, create_promocode, create_tariff
from tests.support.platform import Platform
from tests.support.read_side import ReadSideDriver

pytestmark = pytest.mark.benchmark

API = "/api/v1/loyalty"
BATCH = int(os.environ.get("READ_BENCH_BATCH", "1000000"))
CODES = int(os.environ.get("READ_BENCH_CODES", "1000000"))
PURCHASES = int(os.environ.get("READ_BENCH_PURCHASES", "100000"))
PUBLIC = 10_000
MIN_SAMPLES, AFTER_SECONDS, GIVE_UP_SECONDS = 50, 3.0, 120.0


# -- a purchase stays visible within a second while a batch is generated ----------------


@pytest.fixture(scope="module")
def platform():
    running = Platform().start()
    yield running
    running.stop()


def visible_after(command, query, user, code, tariff_id) -> tuple[float, float]:
    """Seconds `use_promocode` took to answer, and from its answer to the purchase in
    `GET /purchases`."""
    asked = time.perf_counter()
    purchase_id = use(command, user, code, tariff_id)
    committed = time.perf_counter()
    while time.perf_counter() - committed < GIVE_UP_SECONDS:
        newest = query.get(f"{API}/purchases?limit=1", headers=user).json()
        if newest and newest[0]["purchase_id"] == purchase_id:
            return committed - asked, time.perf_counter() - committed
        time.sleep(0.005)
    return committed - asked, GIVE_UP_SECONDS


def test_a_purchase_shows_within_a_second_while_a_large_batch_is_generated(platform):
    command, query, user, code, tariff_id = setup_buyer(platform)
    visible_after(command, query, user, code, tariff_id)  # warm-up
    done: dict = {}

    def generate() -> None:
        with httpx.Client(base_url=platform.urls["command_api"], timeout=900) as client:
            started = time.perf_counter()
            answer = client.post(
                f"{API}/promocodes/generate",
                json={"count": BATCH, "discount_type": "amount", "value": 5_000},
                headers=bearer(uuid.uuid4(), "admin"),
            )
            done.update(answer=answer, seconds=time.perf_counter() - started)

    generator = threading.Thread(target=generate)
    generator.start()
    samples: list[tuple[float, float]] = []
    while generator.is_alive() or len(samples) < MIN_SAMPLES:
        samples.append(visible_after(command, query, user, code, tariff_id))
    # The batch's event reaches the projector after the commit: keep sampling a while.
    after = time.perf_counter() + AFTER_SECONDS
    while time.perf_counter() < after:
        samples.append(visible_after(command, query, user, code, tariff_id))
    generator.join()
    answers, lags = [a for a, _ in samples], [lag for _, lag in samples]
    try:
        assert done["answer"].status_code == 201, done["answer"].text
        # The generation runs in command_api's event loop: a buyer's use waits while it
        # computes (no target in the issue; "bulk work never holds up a buyer").
        report(f"use_promocode answered while generating {BATCH:,} codes", answers)
        report(f"purchase -> GET /purchases while generating {BATCH:,} codes", lags)
        p99 = percentile(lags, 99)
        print(
            f"generation answered in {done['seconds']:.1f} s; {len(lags)} samples; "
            f"p99 {p99 * 1000:.0f} ms (target <= 1000 ms: {'met' if p99 <= 1 else 'missed'})"
        )
    finally:
        if done.get("answer") is not None and done["answer"].status_code == 201:
            batch_id = done["answer"].json()["batch_id"]
            asyncio.run(_delete_batch(batch_id))
    assert len(lags) >= MIN_SAMPLES


async def _delete_batch(batch_id: str) -> None:
    await unseed({"batch": uuid.UUID(batch_id), "tariff": None})


# -- a rebuild of a million codes and 100,000 purchases ----------------------------------


async def seed(world: dict) -> None:
    """`CODES` codes (all but `PUBLIC` in one batch), users, `PURCHASES` paid purchases."""
    batch = world["batch"] = uuid.uuid4()
    tag = world["tag"] = uuid.uuid4().hex[:8].upper()
    await sql(
        "INSERT INTO promocode_batches (id, count, prefix, length, created_at) "
        "VALUES (:b, :n, '', 12, now())",
        b=batch,
        n=CODES - PUBLIC,
    )
    common = (
        "discount_type, value, valid_from, valid_until, max_uses, per_user_limit, "
        "audience, is_active, description, created_at, updated_at"
    )
    await sql(
        f"INSERT INTO promocodes (code, batch_id, {common}) "
        "SELECT 'RB' || :t || '-' || i, :b, 'amount', 5000, now() - interval '1 day', "
        "now() + interval '30 days', 1, 1, 'everyone', true, '', now(), now() "
        "FROM generate_series(1, :n) AS i",
        t=tag,
        b=batch,
        n=CODES - PUBLIC,
    )
    await sql(
        f"INSERT INTO promocodes (code, {common}) "
        "SELECT 'RP' || :t || '-' || i, 'percent', 5, now() - interval '1 day', "
        "now() + (i || ' minutes')::interval + interval '1 day', NULL, NULL, 'everyone', true, "
        "'', now(), now() FROM generate_series(1, :n) AS i",
        t=tag,
        n=PUBLIC,
    )
    users = world["users"] = [uuid.uuid4() for _ in range(PURCHASES // 10)]
    await sql(
        "INSERT INTO users (id, status, registered_at, updated_at) "
        "SELECT u, 'active', now(), now() FROM unnest(CAST(:ids AS uuid[])) AS u",
        ids=users,
    )
    await sql(
        "INSERT INTO purchases (id, user_id, tariff_id, status, base_price, discount, "
        "final_price, currency, source, created_at, paid_at) "
        "SELECT gen_random_uuid(), (CAST(:ids AS uuid[]))[1 + i % :u], :tariff, 'paid', "
        "39900, 0, 39900, 'RUB', 'user', now() - (i || ' seconds')::interval, now() "
        "FROM generate_series(0, :n - 1) AS i",
        ids=users,
        u=len(users),
        tariff=world["tariff"].id,
        n=PURCHASES,
    )


async def unseed(world: dict) -> None:
    """On a connection of its own without a statement time limit: a million deletes take
    minutes on a busy machine."""
    conn = await asyncpg.connect(asyncpg_dsn(get_settings().loyalty_database_url))
    try:
        if world["tariff"] is not None:
            await conn.execute("DELETE FROM purchases WHERE tariff_id = $1", world["tariff"].id)
        await conn.execute("DELETE FROM users WHERE id = ANY($1::uuid[])", world.get("users", []))
        if "batch" in world:
            await conn.execute("DELETE FROM promocodes WHERE batch_id = $1", world["batch"])
            await conn.execute("DELETE FROM promocode_batches WHERE id = $1", world["batch"])
        if "tag" in world:
            await conn.execute("DELETE FROM promocodes WHERE code LIKE $1", f"RP{world['tag']}-%")
    finally:
        await conn.close()


async def memory(side: ReadSideDriver, pattern: str, sample: int = 1000) -> float:
    """Mean `MEMORY USAGE` of up to `sample` keys matching the pattern."""
    found = []
    async for key in side.redis.scan_iter(match=pattern, count=1000):
        found.append(key)
        if len(found) >= sample:
            break
    sizes = [await side.redis.memory_usage(k, samples=0) for k in found]
    return sum(sizes) / len(sizes) if sizes else 0.0


async def test_rebuild_of_a_million_codes_and_100000_purchases(tmp_path):
    side = await ReadSideDriver().start()
    await ensure_built(side.redis, side.engine, force=True)  # from what Postgres holds now
    world = {"tariff": await create_tariff()}
    await side.settle()
    try:
        await seed(world)
        writer, code = await create_loyalty_user(), await create_promocode(per_user_limit=None)
        await side.settle()
        reader = world["users"][0]

        answers, written = [], []

        async def buyers_meanwhile(rebuilding: asyncio.Task) -> None:
            # The seeded purchases have no events: Redis knows them only once rebuilt.
            while await side.redis.exists(keys.BUILT) and not rebuilding.done():
                await asyncio.sleep(0.001)
            while not rebuilding.done():
                answers.append(len(await side.reads.purchases(reader, 100, 0)))
                written.append(await w.reserve(writer, code, world["tariff"]))
                await asyncio.sleep(0.05)

        started = time.perf_counter()
        rebuilding = asyncio.create_task(rebuild_read_models(side.redis, side.engine))
        await buyers_meanwhile(rebuilding)
        counts = await rebuilding
        seconds = time.perf_counter() - started
        await side.settle()  # the events of the purchases made while it ran
        mine = {p["id"] for p in await side.reads.purchases(writer, 1000, 0)}
        lost = [p for p in written if str(p.purchase_id) not in mine]

        held = sum(
            [
                await side.redis.memory_usage(key(reader), samples=0)
                for key in (keys.user_purchases, keys.user_purchase_data)
            ]
        )
        per_purchase = held / max(1, await side.redis.zcard(keys.user_purchases(reader)))
        per_public_code = await memory(side, "rm:code:*")
        print(
            f"\nrebuild of {CODES:,} codes ({CODES - PUBLIC:,} in a batch) and {PURCHASES:,} "
            f"purchases: {seconds:.1f} s (target <= 30 s: {'met' if seconds <= 30 else 'missed'})"
            f"; loaded {counts}"
        )
        print(
            f"while it ran: {len(answers)} buyer reads, each with {set(answers)} purchases; "
            f"{len(written)} purchases made, {len(lost)} missing after it"
        )
        print(
            f"Redis: 0 bytes per generated batch code (not kept); {per_public_code:.0f} bytes "
            f"per listable code (hash) + its rm:public entry; {per_purchase:.0f} bytes per "
            f"purchase (a user with 10: their data hash and zset over 10)"
        )
        assert not lost and set(answers) == {10}
    finally:
        await unseed(world)
        await ensure_built(side.redis, side.engine, force=True)
        await side.close()


# -- a listing page costs the same with 10 public codes or 10,000 more -------------------

# Each size measured three times, in an order that cancels a drift of the machine's load.
ROUNDS = ("fewer", "more", "more", "fewer", "fewer", "more")
WARM_UP, SAMPLES = 50, 300
# Pages behind 10,000 used-up codes take a few hundred ms each: fewer samples.
SLOW_SAMPLES = 20
# A page of 10 is full at either size (the same answer, only the codes behind it grow); 50 is
# the default page, full only when there are 50 public codes to list.
LIMITS = (10, 50)


async def seed_public(tag: str, n: int, *, used_up: bool = False) -> list[tuple[str, int]]:
    """`n` public codes ending between a day and a day and 3 hours from now, sooner than the
    suite's (a page reads them first); `used_up`: each with its one use taken. Returns (code,
    id) pairs."""
    rows = await sql(
        "INSERT INTO promocodes (code, discount_type, value, valid_from, valid_until, max_uses, "
        "uses, per_user_limit, audience, is_active, description, created_at, updated_at) "
        "SELECT 'RL' || :t || '-' || i, 'percent', 5, now() - interval '1 day', "
        "now() + interval '1 day' + (i || ' seconds')::interval, :max_uses, :uses, NULL, "
        "'everyone', true, '', now(), now() FROM generate_series(1, :n) AS i RETURNING code, id",
        t=tag,
        n=n,
        max_uses=1 if used_up else None,
        uses=1 if used_up else 0,
    )
    return [(r["code"], r["id"]) for r in rows]


async def unseed_public(tag: str) -> None:
    await sql("DELETE FROM promocodes WHERE code LIKE :p", p=f"RL{tag}-%")


async def project(side: ReadSideDriver, codes: list[tuple[str, int]], present: bool) -> None:
    """The seeded codes into the read model (a rebuild from Postgres), or out of it."""
    if present:
        await ensure_built(side.redis, side.engine, force=True)
        return
    async with side.redis.pipeline(transaction=False) as pipe:
        for text, code_id in codes:
            pipe.zrem(keys.PUBLIC_CODES, keys.public_member(text, code_id))
            pipe.delete(keys.code(code_id))
        await pipe.execute()


async def page_latency(
    side: ReadSideDriver, user: uuid.UUID, limit: int, samples: int
) -> list[tuple]:
    """(wall, this process's CPU) seconds per page after a warm-up: the CPU time is what the
    other suites on the machine do not inflate, the rest is Redis and waiting for a core."""
    for _ in range(WARM_UP):
        await side.reads.active_promocodes(user, limit, 0)
    lags = []
    for _ in range(samples):
        started, cpu = time.perf_counter(), time.thread_time()
        await side.reads.active_promocodes(user, limit, 0)
        lags.append((time.perf_counter() - started, time.thread_time() - cpu))
    return lags


async def alternate(
    side: ReadSideDriver, user: uuid.UUID, codes: list, samples: int = SAMPLES
) -> dict:
    """Samples per (size, limit) over the alternating rounds, and the public codes each size
    had."""
    measured: dict = {}
    public: dict = {}
    for size in ROUNDS:
        await project(side, codes, present=size == "more")
        public[size] = await side.redis.zcard(keys.PUBLIC_CODES)
        for limit in LIMITS:
            measured.setdefault((size, limit), []).extend(
                await page_latency(side, user, limit, samples)
            )
    return {"samples": measured, "public": public}


def compare(title: str, measured: dict) -> None:
    samples, public = measured["samples"], measured["public"]
    print(f"\n{title} ({len(ROUNDS) // 2} rounds each, alternating; load {load()})")
    for limit in LIMITS:
        wall = {size: [w for w, _ in samples[size, limit]] for size in ("fewer", "more")}
        cpu = {size: [c for _, c in samples[size, limit]] for size in ("fewer", "more")}
        for size in ("fewer", "more"):
            report(f"listing, page {limit}, {public[size]:,} public codes", wall[size])
            report("  its CPU in this process", cpu[size])
        ratio = percentile(wall["more"], 99) / percentile(wall["fewer"], 99)
        verdict = "met" if ratio <= 1.2 else "missed"
        print(
            f"page {limit}: p99 ratio {ratio:.2f} (target <= 1.20: {verdict}); p50 ratio "
            f"{percentile(wall['more'], 50) / percentile(wall['fewer'], 50):.2f}; CPU p50 ratio "
            f"{percentile(cpu['more'], 50) / percentile(cpu['fewer'], 50):.2f}"
        )


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


async def test_a_listing_page_costs_the_same_with_10_or_10000_more_public_codes():
    side = await ReadSideDriver().start()
    buyer = await create_loyalty_user()
    await side.settle()
    tag = uuid.uuid4().hex[:8].upper()
    try:
        codes = await seed_public(tag, PUBLIC)
        compare("open to everyone", await alternate(side, buyer, codes))
        await unseed_public(tag)
        # The codes a page skips on the way are read too: 10,000 used up before the rest.
        codes = await seed_public(tag, PUBLIC, used_up=True)
        compare("used up, ahead of the rest", await alternate(side, buyer, codes, SLOW_SAMPLES))
    finally:
        await unseed_public(tag)
        await ensure_built(side.redis, side.engine, force=True)
        await side.close()
