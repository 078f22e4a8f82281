"""The read side at scale (issue 11): each test prints its figures next to the issue's target.

- A purchase made while a large batch is generated shows in `GET /purchases` within 1 s
  (p99 of at least 50 samples), on the real processes.
- A rebuild of 1,000,000 codes and 100,000 purchases takes <= 30 s, buyers are answered
  throughout and nothing written meanwhile is lost; Redis bytes per code and per purchase.
- The listing's p99 with 100 public codes and with 10,000 more, both read models held at once.

The sizes are environment variables (`READ_BENCH_BATCH`, `READ_BENCH_CODES`,
`READ_BENCH_PURCHASES`, `READ_BENCH_LISTING_PAIRS`); every row a test seeds is deleted at its
end.
"""

import asyncio
import contextlib
import gc
import os
import random
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from core.config import get_settings
from core.db import asyncpg_dsn
from core.redis import make_redis, make_request_redis
from loyalty.read import keys
from loyalty.read.postgres import read_only_engine
from loyalty.read.readers import FIRST_CHUNK, LARGEST_CHUNK
from loyalty.read.rebuild import ensure_built, rebuild_read_models
from query_api.queries import ReadSide
from tests.benchmarks.test_read_your_write import percentile, report, setup_buyer, use
from tests.support import loyalty_writes as w
from tests.support.db import sql
from tests.support.disposable import DisposableRedis
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


# -- a listing page costs the same with 100 public codes or 10,000 more ------------------

# The smaller read model holds the slot's own public codes and `FEWER` seeded ones: enough
# that each page compared reads the same chunk of `rm:public` at either size (a page of 50
# reads its 51 and a quarter more, 63; `readers.FIRST_CHUNK`), so both sides return a full
# page from the same work. With only the 10, a page of 10 would read 10 codes against
# 32 and a page of 50 return 10 entries against 50: a smaller answer, not the same page.
# 100 also keeps `rm:public` a listpack (Redis's encoding of a zset of up to 128 members, as a
# small one is) unless the slot holds more than 28 public codes of its own: printed.
FEWER = 100
LIMITS = (10, 50)
SIDES = ("fewer", "more")
PAIRS = int(os.environ.get("READ_BENCH_LISTING_PAIRS", "10000"))
WARM_UP = 500


async def seed_public(tag: str, n: int) -> None:
    """`n` public codes ending between a day and a day and 3 hours from now, sooner than the
    suite's (a page reads them first): two calls with different tags interleave."""
    await sql(
        "INSERT INTO promocodes (code, discount_type, value, valid_from, valid_until, max_uses, "
        "uses, per_user_limit, audience, is_active, description, created_at, updated_at) "
        "SELECT 'RL' || :t || '-' || i, 'percent', 5, now() - interval '1 day', "
        "now() + interval '1 day' + (i || ' seconds')::interval, NULL, 0, NULL, "
        "'everyone', true, '', now(), now() FROM generate_series(1, :n) AS i",
        t=tag,
        n=n,
    )


async def unseed_public(tag: str) -> None:
    await sql("DELETE FROM promocodes WHERE code LIKE :p", p=f"RL{tag}-%")


@contextlib.asynccontextmanager
async def two_read_models(more: int = PUBLIC) -> AsyncIterator[dict[str, DisposableRedis]]:
    """Two equal throwaway Redis servers, each with a read model rebuilt from Postgres: "fewer"
    with the slot's public codes and `FEWER` seeded ones, "more" with those and `more` public
    codes seeded once the first was built, ending among and after them. Users created before
    are in both; the seeded rows are deleted at the end."""
    tags = {side: uuid.uuid4().hex[:8].upper() for side in SIDES}
    engine = read_only_engine(get_settings().loyalty_database_url)
    try:
        with DisposableRedis() as fewer, DisposableRedis() as larger:
            servers = {"fewer": fewer, "more": larger}
            for side, n in (("fewer", FEWER), ("more", more)):
                await seed_public(tags[side], n)
                builder = make_redis(servers[side].url)
                await ensure_built(builder, engine, force=True)
                if side == "fewer":  # every page compared reads a full chunk at either size
                    fewest = await builder.zcard(keys.PUBLIC_CODES)
                    assert fewest >= chunk_read(max(LIMITS)), fewest
                await builder.aclose()
            yield servers
    finally:
        for tag in tags.values():
            await unseed_public(tag)
        await engine.dispose()


def chunk_read(limit: int) -> int:
    """The public codes the first round trip of a page asks for (`ReadModels.active_page`)."""
    need = limit + 1
    return max(FIRST_CHUNK, min(need + need // 4, LARGEST_CHUNK))


class Collections:
    """The generation of each garbage collection of this process while it is entered."""

    def __init__(self) -> None:
        self.generations: list[int] = []

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self.generations.append(info["generation"])

    def __enter__(self) -> "Collections":
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_exc: object) -> None:
        gc.callbacks.remove(self)


@dataclass
class Series:
    """One side's samples on one page size: seconds of wall time and of this thread's CPU,
    the highest generation the client's GC collected during each (-1: none)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    collected: list[int] = field(default_factory=list)
    entries: set[int] = field(default_factory=set)


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def track_latency(servers: dict[str, DisposableRedis]) -> None:
    """Redis's own time per command from now on, as percentiles (`INFO latencystats`, Redis
    7: the commands a script calls count in its time, not on their own)."""
    for server in servers.values():
        redis = make_redis(server.url)
        await redis.config_set("latency-tracking-info-percentiles", "50 99 99.9")
        await redis.config_resetstat()
        await redis.aclose()


async def script_latency(servers: dict[str, DisposableRedis]) -> str:
    """Each server's percentiles of its listing script calls since `track_latency` (both
    page sizes together), in microseconds."""
    found = []
    for side, server in servers.items():
        redis = make_redis(server.url)
        figures = (await redis.info("latencystats")).get("latency_percentiles_usec_evalsha", {})
        await redis.aclose()
        found.append(f"{side} " + " ".join(f"{p} {us:.0f}" for p, us in figures.items()))
    return "; ".join(found) + " us"


def ms(seconds: list[float]) -> str:
    return (
        " ".join(f"p{p:g} {percentile(seconds, p) * 1000:.3f}" for p in (50, 95, 99, 99.9))
        + f" max {max(seconds) * 1000:.2f} ms"
    )


def p99_ratio(more: list[float], fewer: list[float]) -> float:
    return percentile(more, 99) / percentile(fewer, 99)


async def sizes(servers: dict[str, DisposableRedis]) -> dict[str, str]:
    """Each side's public codes and how Redis encodes their zset."""
    found = {}
    for side, server in servers.items():
        redis = make_redis(server.url)
        n = await redis.zcard(keys.PUBLIC_CODES)
        encoding = await redis.object("encoding", keys.PUBLIC_CODES)
        found[side] = f"{n:,} public codes ({encoding})"
        await redis.aclose()
    return found


def compare(title: str, series: dict[tuple[str, int], Series], sizes: dict[str, str]) -> None:
    """Each side's figures per page size, then the ratios: p99 (the target), over the whole
    run and over each fifth of it (the two sides' fifths cover the same seconds), and p50,
    p99.9, CPU, and p99 of the samples without a collection of the client's."""
    print(f"\n{title}; load average {load()}")
    for limit in LIMITS:
        for side in SIDES:
            s = series[side, limit]
            gcs = [g for g in s.collected if g >= 0]
            line = f"  page of {limit}, {sizes[side]}: {ms(s.wall)}"
            if s.cpu:
                line += f"; CPU p50 {percentile(s.cpu, 50) * 1e6:.0f} us"
            line += f"; a client GC in {len(gcs)} samples ({gcs.count(2)} full)"
            print(line)
        fewer, more = series["fewer", limit], series["more", limit]
        ratio = p99_ratio(more.wall, fewer.wall)
        n = len(fewer.wall) // 5
        fifths = " ".join(
            f"{p99_ratio(more.wall[i : i + n], fewer.wall[i : i + n]):.2f}"
            for i in range(0, 5 * n, n)
        )
        calm = {
            side: [w for w, g in zip(s.wall, s.collected, strict=True) if g < 0]
            for side, s in (("fewer", fewer), ("more", more))
        }
        extras = [
            f"p50 {percentile(more.wall, 50) / percentile(fewer.wall, 50):.2f}",
            f"p99.9 {percentile(more.wall, 99.9) / percentile(fewer.wall, 99.9):.2f}",
            f"p99 without a client GC {p99_ratio(calm['more'], calm['fewer']):.2f}",
        ]
        if fewer.cpu:
            extras.append(f"CPU p50 {percentile(more.cpu, 50) / percentile(fewer.cpu, 50):.2f}")
        print(
            f"  page of {limit}: p99 ratio {ratio:.2f} (target <= 1.20: "
            f"{'met' if ratio <= 1.2 else 'missed'}); by fifth of the run {fifths}; "
            + "; ".join(extras)
        )


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


async def test_a_listing_page_costs_the_same_with_10_or_10000_more_public_codes():
    """Both read models held at once, one per Redis server, read in pairs: each pair the two
    sides in a random order, on the same page size, so whatever the machine does meanwhile
    falls on both alike. (Used-up codes leave `rm:public` (`scripts._PLACE`): 10,000 of them
    ahead of the rest cost a page nothing now, so that case is not measured any more.)"""
    buyer = await create_loyalty_user()
    async with two_read_models() as servers:
        reads = {
            # No engine: a missing read model fails the test, never falls back to Postgres.
            side: ReadSide(make_request_redis(server.url), None)
            for side, server in servers.items()
        }
        labels = await sizes(servers)
        series = {(side, limit): Series() for side in SIDES for limit in LIMITS}
        try:
            for _ in range(WARM_UP):
                for limit in LIMITS:
                    for side in SIDES:
                        await reads[side].active_promocodes(buyer, limit, 0)
            await track_latency(servers)
            started = {side: cpu_seconds(server.proc.pid) for side, server in servers.items()}
            with Collections() as collections:
                for _ in range(PAIRS):
                    for limit in LIMITS:
                        for side in random.sample(SIDES, 2):
                            s, before = series[side, limit], len(collections.generations)
                            began, cpu = time.perf_counter(), time.thread_time()
                            page = await reads[side].active_promocodes(buyer, limit, 0)
                            s.wall.append(time.perf_counter() - began)
                            s.cpu.append(time.thread_time() - cpu)
                            s.collected.append(max(collections.generations[before:], default=-1))
                            s.entries.add(len(page.items))
            redis_cpu = {
                side: (cpu_seconds(server.proc.pid) - started[side]) / (PAIRS * len(LIMITS))
                for side, server in servers.items()
            }
            in_redis = await script_latency(servers)
        finally:
            for r in reads.values():
                await r.redis.aclose()
    compare(
        f"listing in-process, {PAIRS:,} pairs per page size, in random order within each pair",
        series,
        labels,
    )
    print(
        f"  Redis, both pages: the script's own time {in_redis}; CPU per request "
        + ", ".join(f"{side} {seconds * 1e6:.0f} us" for side, seconds in redis_cpu.items())
    )
    for (side, limit), s in series.items():
        assert s.entries == {limit}, (side, limit, s.entries)
        assert len(s.wall) == PAIRS, (side, limit)
