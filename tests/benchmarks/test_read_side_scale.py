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
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
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
# The sides change servers between segments of a run (`TwoReadModels.swap`); after each
# change, a few reads of each side and page are not measured (views new to a process).
SEGMENTS, AFTER_SWAP = 10, 20
# What a task was doing during a read (`Watched`).
STATES = ("ran", "waited")


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


def chunk_read(limit: int) -> int:
    """The public codes the first round trip of a page asks for (`ReadModels.active_page`)."""
    need = limit + 1
    return max(FIRST_CHUNK, min(need + need // 4, LARGEST_CHUNK))


@dataclass
class TwoReadModels:
    """Two equal throwaway Redis servers, each holding both read models: "fewer" in database
    0 of the first and 1 of the second, "more" the other way round. Readers use database 0;
    `swap` exchanges the two databases in both servers (SWAPDB), so each side is read from
    each server, and through whatever process reads that server, in turn: what is one
    process's own (the core it runs on, its GC, its timers) falls on both sides alike."""

    servers: list[DisposableRedis]
    swapped: bool = False

    def serving(self, side: str) -> int:
        """The index of the server whose database 0 holds this side's read model now."""
        return int((side == "more") != self.swapped)

    async def swap(self) -> None:
        for server in self.servers:
            redis = make_redis(server.url)
            await redis.swapdb(0, 1)
            await redis.aclose()
        self.swapped = not self.swapped

    async def sizes(self) -> dict[str, str]:
        """Each side's public codes and how Redis encodes their zset."""
        found = {}
        for side in SIDES:
            redis = make_redis(self.servers[self.serving(side)].url)
            n = await redis.zcard(keys.PUBLIC_CODES)
            encoding = await redis.object("encoding", keys.PUBLIC_CODES)
            found[side] = f"{n:,} public codes ({encoding})"
            await redis.aclose()
        return found

    async def script_time(self, index: int) -> Counter:
        """The listing script's calls and Redis's own microseconds in them so far, on one
        server's database 0 and 1 alike (`INFO commandstats`)."""
        redis = make_redis(self.servers[index].url)
        found = (await redis.info("commandstats")).get("cmdstat_evalsha", {})
        await redis.aclose()
        return Counter({"script calls": found.get("calls", 0), "script us": found.get("usec", 0)})


@contextlib.asynccontextmanager
async def two_read_models(more: int = PUBLIC) -> AsyncIterator[TwoReadModels]:
    """Both read models rebuilt from Postgres into both servers: "fewer" with the slot's
    public codes and `FEWER` seeded ones, "more" with those and `more` public codes seeded
    once "fewer" was built, ending among and after them. Users created before are in both;
    the seeded rows are deleted at the end."""
    tags = {side: uuid.uuid4().hex[:8].upper() for side in SIDES}
    engine = read_only_engine(get_settings().loyalty_database_url)
    try:
        with DisposableRedis() as first, DisposableRedis() as second:
            models = TwoReadModels([first, second])
            for side, n in (("fewer", FEWER), ("more", more)):
                await seed_public(tags[side], n)
                for index, server in enumerate(models.servers):
                    builder = make_redis(server.url_of(int(models.serving(side) != index)))
                    await ensure_built(builder, engine, force=True)
                    if side == "fewer":  # every page compared reads a full chunk at either size
                        fewest = await builder.zcard(keys.PUBLIC_CODES)
                        assert fewest >= chunk_read(max(LIMITS)), fewest
                    await builder.aclose()
            yield models
    finally:
        for tag in tags.values():
            await unseed_public(tag)
        await engine.dispose()


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


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Watched:
    """The tasks that answer the reads of one server: this thread (the client) and processes
    by name (their main thread). `times()`: per task, nanoseconds on a core and waiting for
    one, runnable while another task had it (/proc/.../schedstat); `cpu()`: the processes'
    CPU seconds, all threads."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.names = [f"{task} {state}" for task in ("client", *pids) for state in STATES]
        paths = [
            "/proc/thread-self/schedstat",
            *(f"/proc/{pid}/schedstat" for pid in pids.values()),
        ]
        self.fds = [os.open(path, os.O_RDONLY) for path in paths]

    def times(self) -> list[int]:
        return [int(n) for fd in self.fds for n in os.pread(fd, 128, 0).split()[:2]]

    def cpu(self) -> Counter:
        return Counter({name: cpu_seconds(pid) for name, pid in self.pids.items()})

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)


@dataclass
class Series:
    """One side's samples on one page size: seconds of wall time and of the client thread's
    CPU, seconds each watched task ran and waited for a core (a list for each: floats only,
    so the samples add no work for the client's GC), the highest generation the client's GC
    collected during each (-1: none), and what each read answered (entries or status)."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    tasks: dict[str, list[float]] = field(default_factory=dict)
    collected: list[int] = field(default_factory=list)
    answers: Counter = field(default_factory=Counter)


@dataclass
class Sampled:
    series: dict[tuple[str, int], Series]
    # Per side: the watched processes' CPU seconds, the listing script's calls and Redis's
    # own microseconds in them, while that side was read.
    used: dict[str, Counter]


async def sample_pairs(
    models: TwoReadModels,
    read: Callable[[int, int], Awaitable[int]],
    watched: list[Watched],
    pairs: int,
) -> Sampled:
    """`pairs` samples of each side on each page size, the two sides of a pair one after the
    other in a random order, so whatever the machine does meanwhile falls on both alike (the
    i-th sample of each side is the same pair's); the sides change servers between
    `SEGMENTS` segments. `read(server, limit)` reads from the server at that index and
    returns what it answered; `watched[server]` are the tasks answering it."""
    series = {(side, limit): Series() for side in SIDES for limit in LIMITS}
    used = {side: Counter() for side in SIDES}
    with Collections() as collections:
        for segment in range(SEGMENTS):
            if segment:
                await models.swap()
                for _ in range(AFTER_SWAP):
                    for side in SIDES:
                        for limit in LIMITS:
                            await read(models.serving(side), limit)
            servers = {side: models.serving(side) for side in SIDES}
            before = {i: watched[i].cpu() + await models.script_time(i) for i in servers.values()}
            for _ in range(pairs // SEGMENTS):
                for limit in LIMITS:
                    for side in random.sample(SIDES, 2):
                        s, server = series[side, limit], servers[side]
                        gcs, times = len(collections.generations), watched[server].times()
                        began, cpu = time.perf_counter(), time.thread_time()
                        answer = await read(server, limit)
                        s.wall.append(time.perf_counter() - began)
                        s.cpu.append(time.thread_time() - cpu)
                        after = watched[server].times()
                        for task, was, now in zip(watched[server].names, times, after, strict=True):
                            s.tasks.setdefault(task, []).append((now - was) / 1e9)
                        s.collected.append(max(collections.generations[gcs:], default=-1))
                        s.answers[answer] += 1
            for side, i in servers.items():
                used[side] += watched[i].cpu() + await models.script_time(i)
                used[side] -= before[i]
    return Sampled(series, used)


def ms(seconds: list[float]) -> str:
    return (
        " ".join(f"p{p:g} {percentile(seconds, p) * 1000:.3f}" for p in (50, 95, 99, 99.9))
        + f" max {max(seconds) * 1000:.2f} ms"
    )


def p99_ratio(more: list[float], fewer: list[float]) -> float:
    return percentile(more, 99) / percentile(fewer, 99)


def p99_interval(more: list[float], fewer: list[float], rounds: int = 200) -> str:
    """The middle 95% of the p99 ratio over `rounds` resamples of the pairs (the i-th sample of
    each side is one pair's, taken at the same moment: drawn together)."""
    n = len(fewer)
    ratios = sorted(
        p99_ratio([more[i] for i in drawn], [fewer[i] for i in drawn])
        for drawn in (random.choices(range(n), k=n) for _ in range(rounds))
    )
    return f"{ratios[round(0.025 * (rounds - 1))]:.2f}-{ratios[round(0.975 * (rounds - 1))]:.2f}"


def tail(s: Series) -> str:
    """Where the time of the slowest 1% of the samples went, next to all samples': each
    task's mean milliseconds on a core and waiting for one."""

    def spent(samples: list[int]) -> str:
        def mean(values: list[float]) -> str:
            return f"{sum(values[i] for i in samples) / len(samples) * 1000:.2f}"

        tasks = " ".join(f"{task} {mean(times)}" for task, times in s.tasks.items())
        return f"mean {mean(s.wall)} ms: {tasks}"

    cut = percentile(s.wall, 99)
    slowest = [i for i, w in enumerate(s.wall) if w >= cut]
    return f"slowest 1% {spent(slowest)}; all {spent(list(range(len(s.wall))))}"


def compare(title: str, sampled: Sampled, sizes: dict[str, str]) -> None:
    """Each side's figures per page size, then the ratios: p99 (the target) over the whole run,
    its 95% interval over resampled pairs and its value in each fifth of the run (the two
    sides' fifths cover the same seconds); p50, p99.9, the client's CPU, and p99 of the
    samples without a collection of the client's GC. Then each side's CPU per request."""
    series = sampled.series
    print(f"\n{title}; load average {load()}")
    for limit in LIMITS:
        for side in SIDES:
            s = series[side, limit]
            gcs = [g for g in s.collected if g >= 0]
            slow = sum(w > 0.001 for w in s.wall) / len(s.wall)
            print(
                f"  page of {limit}, {sizes[side]}: {ms(s.wall)}; over 1 ms {slow:.2%}; client "
                f"CPU p50 {percentile(s.cpu, 50) * 1e6:.0f} us p99 "
                f"{percentile(s.cpu, 99) * 1e6:.0f} us; a client GC in {len(gcs)} samples "
                f"({gcs.count(2)} full)\n    {tail(s)}"
            )
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
            f"client CPU p50 {percentile(more.cpu, 50) / percentile(fewer.cpu, 50):.2f}",
        ]
        print(
            f"  page of {limit}: p99 ratio {ratio:.2f} (target <= 1.20: "
            f"{'met' if ratio <= 1.2 else 'missed'}; 95% of resampled pairs "
            f"{p99_interval(more.wall, fewer.wall)}); by fifth of the run {fifths}; "
            + "; ".join(extras)
        )
    requests = {
        side: sum(series[side, limit].answers.total() for limit in LIMITS) for side in SIDES
    }
    figures = {
        side: {
            name: f"{seconds / requests[side] * 1e6:.0f} us"
            for name, seconds in used.items()
            if name not in ("script calls", "script us")
        }
        | {"Redis in the script": f"{used['script us'] / max(1, used['script calls']):.0f} us"}
        for side, used in sampled.used.items()
    }
    print(
        "  per request, both pages: "
        + "; ".join(
            f"{name} " + ", ".join(f"{side} {figures[side][name]}" for side in SIDES)
            for name in figures["fewer"]
        )
    )


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


async def test_a_listing_page_costs_the_same_with_10_or_10000_more_public_codes():
    """Both read models held at once, read in pairs (`sample_pairs`), each side from each of
    the two Redis servers in turn (`TwoReadModels`). (Used-up codes leave `rm:public`
    (`scripts._PLACE`): 10,000 of them ahead of the rest cost a page nothing now, so that case
    is not measured any more.)"""
    buyer = await create_loyalty_user()
    async with two_read_models() as models:
        # No engine: a missing read model fails the test, never falls back to Postgres.
        reads = [ReadSide(make_request_redis(s.url), None) for s in models.servers]
        watched = [Watched({"Redis": s.proc.pid}) for s in models.servers]

        async def read(server: int, limit: int) -> int:
            return len((await reads[server].active_promocodes(buyer, limit, 0)).items)

        try:
            for _ in range(WARM_UP):
                for server in range(len(reads)):
                    for limit in LIMITS:
                        await read(server, limit)
            labels = await models.sizes()
            sampled = await sample_pairs(models, read, watched, PAIRS)
        finally:
            for server in range(len(reads)):
                watched[server].close()
                await reads[server].redis.aclose()
    compare(
        f"listing in-process, {PAIRS:,} pairs per page size, in random order within each pair, "
        f"the sides changing servers {SEGMENTS - 1} times",
        sampled,
        labels,
    )
    requests = PAIRS // SEGMENTS * SEGMENTS
    for (side, limit), s in sampled.series.items():
        assert s.answers == Counter({limit: requests}), (side, limit, s.answers)
