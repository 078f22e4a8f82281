"""Faults against real processes: Redis and Postgres stopped and restarted, the workers killed
in the middle of their work. Each test runs a platform of its own (command_api, query_api,
workers) on its own ports, against a throwaway Postgres cluster (one for the module) and a
throwaway Redis (one per test), so stopping them touches nobody else's data.
"""

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import psutil
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from core.db import asyncpg_dsn, get_engine
from core.redis import make_redis
from core.streams import LOYALTY_EVENTS
from loyalty.read import keys
from loyalty.read.readers import ReadModels
from scripts.environments import TEST_ENV
from tests.support.disposable import DisposablePostgres, DisposableRedis
from tests.support.factories import bearer, unlimited_code_json
from tests.support.platform import PORT_OFFSET, WORKERS, Platform, caught_up
from tests.support.polling import eventually

pytestmark = pytest.mark.skipif(
    not (DisposablePostgres.available() and DisposableRedis.available()),
    reason="needs redis-server and the PostgreSQL server binaries (initdb, pg_ctl)",
)

ROOT = Path(__file__).resolve().parents[2]
API = "/api/v1/loyalty"
# Next to the session's platform (PORT_OFFSET) and test_failures.py's extra app (+89).
FAULT_PORT_OFFSET = PORT_OFFSET + 50
OPERATOR = bearer(uuid.uuid4(), "admin")

MIGRATE = """
import asyncio
from core.config import get_settings
from scripts.setup import ensure_database, migrate
settings = get_settings()
for url in (settings.auth_database_url, settings.loyalty_database_url):
    asyncio.run(ensure_database(url))
migrate("auth")
migrate("loyalty")
"""

# The bound on every answer during an outage, a refused or a hanging dependency alike.
PROMPT = 2.0


@pytest.fixture(scope="module")
def postgres():
    """A throwaway cluster with both databases migrated, for the module."""
    pg = DisposablePostgres().init().start()
    try:
        env = {
            **os.environ,
            **TEST_ENV,
            "AUTH_DATABASE_URL": pg.url("auth_fault_test"),
            "LOYALTY_DATABASE_URL": pg.url("loyalty_fault_test"),
        }
        subprocess.run([sys.executable, "-c", MIGRATE], env=env, cwd=ROOT, check=True)
        yield pg
    finally:
        pg.remove()


@dataclass
class Faulty:
    """A platform on its own Postgres and Redis, and a way to look into both."""

    platform: Platform
    postgres: DisposablePostgres
    redis_server: DisposableRedis
    loyalty: AsyncEngine

    @property
    def env(self) -> dict[str, str]:
        return self.platform.env

    @property
    def command(self) -> str:
        return self.platform.urls["command_api"]

    @property
    def query(self) -> str:
        return self.platform.urls["query_api"]

    def redis(self):
        return make_redis(self.redis_server.url)

    async def sql(self, statement: str, **params) -> list[dict]:
        async with self.loyalty.begin() as conn:
            result = await conn.execute(text(statement), params)
            return [dict(r) for r in result.mappings()] if result.returns_rows else []

    async def caught_up(self) -> bool:
        return await caught_up(
            self.env["AUTH_DATABASE_URL"], self.env["LOYALTY_DATABASE_URL"], self.redis_server.url
        )

    async def users(self, count: int) -> list[uuid.UUID]:
        """Buyers known to the loyalty side (as user sync records them)."""
        ids = [uuid.uuid4() for _ in range(count)]
        await self.sql(
            "INSERT INTO users (id, status, registered_at, updated_at) "
            "SELECT u, 'active', now(), now() FROM unnest(CAST(:ids AS uuid[])) AS u",
            ids=ids,
        )
        return ids

    async def tariff_and_code(self) -> tuple[int, dict]:
        """A tariff and an unlimited public code, through command_api."""
        async with httpx.AsyncClient(base_url=self.command, timeout=10) as client:
            tariff = await client.post(
                f"{API}/tariffs",
                json={"name": f"fault-{uuid.uuid4().hex[:8]}", "price": 49_900},
                headers=OPERATOR,
            )
            assert tariff.status_code == 201, tariff.text
            code = await client.post(
                f"{API}/promocodes", json=unlimited_code_json("FAULT"), headers=OPERATOR
            )
            assert code.status_code == 201, code.text
        return tariff.json()["id"], code.json()

    async def read_model_built(self) -> None:
        """The workers have built the read model and applied everything so far."""
        redis = self.redis()
        try:
            await eventually(lambda: redis.exists(keys.BUILT), timeout=30, message="rm:built")
        finally:
            await redis.aclose()
        await eventually(self.caught_up, timeout=30, message="the workers catching up")

    async def code_and_users_with_workers_stopped(
        self, count: int
    ) -> tuple[int, dict, list[uuid.UUID]]:
        """A tariff, an unlimited code and `count` users, all in the read model; then the
        workers stopped, so what follows piles up for them."""
        tariff_id, code = await self.tariff_and_code()
        users = await self.users(count)
        await self.read_model_built()
        self.platform.stop_process(WORKERS)
        return tariff_id, code, users

    async def postgres_purchases(self, user_ids: list[uuid.UUID]) -> dict[str, str]:
        rows = await self.sql(
            "SELECT id, status FROM purchases WHERE user_id = ANY(:ids)", ids=user_ids
        )
        return {str(r["id"]): r["status"] for r in rows}

    async def read_model_purchases(self, user_ids: list[uuid.UUID]) -> dict[str, str] | None:
        """The purchases of these users in the Redis read model (None: not built)."""
        redis = self.redis()
        try:
            models = ReadModels(redis)
            if not await models.is_built():
                return None
            found: dict[str, str] = {}
            for user_id in user_ids:
                for purchase in await models.purchases(user_id, 10_000, 0) or []:
                    found[purchase["id"]] = purchase["status"]
            return found
        finally:
            await redis.aclose()

    async def uses(self, code_id: int) -> tuple[int, int | None]:
        """The code's uses in Postgres and in the read model."""
        [row] = await self.sql("SELECT uses FROM promocodes WHERE id = :id", id=code_id)
        redis = self.redis()
        try:
            counted = await redis.hget(keys.code(code_id), "u")  # the uses counter
        finally:
            await redis.aclose()
        return row["uses"], int(counted) if counted is not None else None

    def redis_processes(self) -> list[psutil.Process]:
        assert self.redis_server.proc is not None
        return [psutil.Process(self.redis_server.proc.pid)]

    def postgres_processes(self) -> list[psutil.Process]:
        """The postmaster and every backend: the whole server."""
        postmaster = int((self.postgres.data / "postmaster.pid").read_text().split()[0])
        server = psutil.Process(postmaster)
        return [server, *server.children(recursive=True)]

    def kill_workers(self) -> None:
        """SIGKILL: no handler runs, nothing is acknowledged or committed on the way out."""
        proc = self.platform.procs.pop(WORKERS)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)


@pytest.fixture(scope="module")
async def faulty(postgres):
    """The module's platform; each test leaves it running (workers included) and healthy."""
    redis_server = DisposableRedis().start()
    platform = Platform(
        {
            "AUTH_DATABASE_URL": postgres.url("auth_fault_test"),
            "LOYALTY_DATABASE_URL": postgres.url("loyalty_fault_test"),
            "REDIS_URL": redis_server.url,
        },
        port_offset=FAULT_PORT_OFFSET,
    )
    loyalty = create_async_engine(postgres.url("loyalty_fault_test"), poolclass=NullPool)
    try:
        platform.start_all_http(["command_api", "query_api"])
        platform.start_workers()
        yield Faulty(platform, postgres, redis_server, loyalty)
    finally:
        platform.stop()
        redis_server.stop()
        await loyalty.dispose()
        print(f"fault platform logs kept in {platform.log_dir}")


hung: list[psutil.Process] = []


def hang(processes: list[psutil.Process]) -> None:
    """SIGSTOP: the server keeps its sockets (connections are accepted by the kernel) but
    answers nothing, as a server stuck on a disk or swapped out does."""
    for process in processes:
        process.suspend()
        hung.append(process)


def resume() -> None:
    for process in hung:
        process.resume()
    hung.clear()


@pytest.fixture(autouse=True)
async def _whole_again(faulty):
    """After each test, whatever it stopped runs again (also when it failed half-way), and
    caught_up's pooled engines, which a restarted Postgres left dead connections, are new."""
    yield
    for process in hung:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.resume()
    hung.clear()
    if faulty.redis_server.proc is None:
        faulty.redis_server.start()
    if not (faulty.postgres.data / "postmaster.pid").exists():
        faulty.postgres.start()
    if WORKERS not in faulty.platform.procs or faulty.platform.procs[WORKERS].poll() is not None:
        faulty.platform.procs.pop(WORKERS, None)
        faulty.platform.start_workers()
    for name in ("AUTH_DATABASE_URL", "LOYALTY_DATABASE_URL"):
        await get_engine(faulty.env[name]).dispose()


@dataclass
class Answer:
    status: int | None  # None: no HTTP answer (a dropped connection, a client timeout)
    body: dict | str
    seconds: float

    @property
    def names(self) -> list[str]:
        if not isinstance(self.body, dict):
            return []
        error = self.body.get("error") or {}
        return error.get("details", {}).get("dependencies", [])


async def call(client: httpx.AsyncClient, method: str, url: str, **kwargs) -> Answer:
    started = time.monotonic()
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.TransportError as exc:
        return Answer(None, repr(exc), time.monotonic() - started)
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return Answer(response.status_code, body, time.monotonic() - started)


def slowest(answers: list[Answer]) -> str:
    """The three slowest answers, for the figures the test prints (run with -s)."""
    return ", ".join(f"{a.seconds:.3f}s" for a in sorted(answers, key=lambda a: -a.seconds)[:3])


def unavailable(answer: Answer, dependency: str) -> bool:
    return (
        answer.status == 503
        and isinstance(answer.body, dict)
        and answer.body["error"]["code"] == "dependency_unavailable"
        and dependency in answer.names
    )


class Buyer:
    """Keeps using a code (or, as a `reader`, listing the user's purchases), one request after
    another, and remembers every answer."""

    def __init__(
        self, faulty: Faulty, user_id: uuid.UUID, code: str, tariff_id: int, reader: bool = False
    ) -> None:
        self.method = "GET" if reader else "POST"
        self.url = (
            f"{faulty.query}{API}/purchases" if reader else f"{faulty.command}{API}/use_promocode"
        )
        self.body = None if reader else {"promocode": code, "tariff_id": tariff_id}
        self.ok = 200 if reader else 201
        self.user_id = user_id
        self.headers = bearer(user_id)
        self.answers: list[Answer] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> "Buyer":
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> list[Answer]:
        self._stop.set()
        assert self._task is not None
        await self._task
        return self.answers

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            while not self._stop.is_set():
                answer = await call(
                    client, self.method, self.url, json=self.body, headers=self.headers
                )
                self.answers.append(answer)
                await asyncio.sleep(0.02)  # a buyer, not a load test

    def since(self, index: int, status: int | None = None) -> int:
        """How many answers since `index` had this status (by default, success)."""
        status = status or self.ok
        return sum(1 for a in self.answers[index:] if a.status == status)

    def purchase_ids(self) -> set[str]:
        return {a.body["purchase_id"] for a in self.answers if a.status == 201}


def redis_outages(faulty: Faulty) -> Counter:
    """The workers' lines naming redis, by component (an outage and its end are two)."""
    lines = [json.loads(line) for line in faulty.platform.log(WORKERS).splitlines()]
    return Counter(r["component"] for r in lines if r.get("dependency") == "redis")


async def test_redis_stopped_and_restarted_empty_while_a_buyer_buys(faulty):
    """Only 201 or 503 naming Redis, each promptly; no 201 lost; the read models come back
    by themselves and show every purchase."""
    tariff_id, code = await faulty.tariff_and_code()
    [user] = await faulty.users(1)
    await faulty.read_model_built()
    buyer = Buyer(faulty, user, code["code"], tariff_id).start()
    try:
        await eventually(lambda: buyer.since(0) >= 3, timeout=10, message="uses before")
        faulty.redis_server.stop()  # SIGKILL: nothing saved, the restart comes back empty
        down = len(buyer.answers)
        await eventually(lambda: buyer.since(down, 503) >= 5, timeout=15, message="503s")
        # Back only once the workers have seen it go (their client retries a dropped
        # connection briefly: a Redis back within that is no outage to them).
        await eventually(lambda: redis_outages(faulty), timeout=15, message="the outage line")
        faulty.redis_server.start()
        back = len(buyer.answers)
        await eventually(lambda: buyer.since(back) >= 3, timeout=30, message="uses after")
    finally:
        answers = await buyer.stop()

    wrong = [a for a in answers if not (a.status == 201 or unavailable(a, "redis"))]
    assert wrong == []
    print(f"redis killed: {Counter(a.status for a in answers)}, slowest {slowest(answers)}")
    slow = [a for a in answers if a.seconds >= PROMPT]
    assert slow == []
    assert buyer.since(down, 503) >= 5

    accepted = buyer.purchase_ids()
    assert accepted <= set(await faulty.postgres_purchases([user]))

    async def in_the_read_model() -> bool:
        found = await faulty.read_model_purchases([user])
        return found is not None and accepted <= set(found)

    await eventually(in_the_read_model, timeout=30, message="the read model coming back")
    async with httpx.AsyncClient(base_url=faulty.query, timeout=10) as client:
        listed = await client.get(f"{API}/purchases?limit=200", headers=bearer(user))
    assert listed.status_code == 200, listed.text
    assert accepted <= {p["purchase_id"] for p in listed.json()}

    # The workers said it once per component when Redis went, and once when it came back.
    lines = [json.loads(line) for line in faulty.platform.log(WORKERS).splitlines()]
    outages = redis_outages(faulty)
    assert outages, "no outage logged"
    assert set(outages.values()) <= {1, 2}  # the start, and at most the recovery
    assert any("recovered after" in r["msg"] for r in lines)


async def test_postgres_restarted_costs_503s_and_the_services_heal_without_a_restart(faulty):
    tariff_id, code = await faulty.tariff_and_code()
    [user] = await faulty.users(1)
    await faulty.read_model_built()
    use = {"promocode": code["code"], "tariff_id": tariff_id}
    async with httpx.AsyncClient(base_url=faulty.command, timeout=10) as client:
        before = await call(client, "POST", f"{API}/use_promocode", json=use, headers=bearer(user))
        assert before.status == 201, before.body
        pids = {p.pid for p in faulty.platform.procs.values()}

        faulty.postgres.stop("fast")  # every connection is closed
        try:
            during = [
                await call(client, "POST", f"{API}/use_promocode", json=use, headers=bearer(user))
                for _ in range(5)
            ]
            health = await call(client, "GET", "/health")
        finally:
            faulty.postgres.start()
        returned = time.monotonic()

        assert [a for a in during if not unavailable(a, "postgres")] == []
        print(f"postgres stopped: slowest of {len(during)} {slowest(during)}")
        assert [a for a in during if a.seconds >= PROMPT] == []
        assert health.status == 503 and health.body["failing"] == ["postgres"]

        async def a_use() -> Answer:
            return await call(
                client, "POST", f"{API}/use_promocode", json=use, headers=bearer(user)
            )

        after = await eventually(a_use, timeout=5, until=lambda a: a.status == 201)
        assert time.monotonic() - returned < 5

    # No process was restarted, and the workers (relay, projector) work again too.
    assert {p.pid for p in faulty.platform.procs.values()} == pids
    assert all(p.poll() is None for p in faulty.platform.procs.values())
    expected = {before.body["purchase_id"], after.body["purchase_id"]}

    async def projected() -> bool:
        found = await faulty.read_model_purchases([user])
        return found is not None and expected <= set(found)

    await eventually(projected, timeout=15, message="the workers projecting again")
    # A pool the recovery did not touch (an operator's write) answers at once too: no
    # connection opened before the restart is handed out again.
    await faulty.tariff_and_code()


async def hung_while_buying(faulty: Faulty, dependency: str) -> tuple[Buyer, Buyer, int]:
    """A buyer (command_api) and a reader (query_api) go on while `dependency` hangs, until
    each has had 3 answers during the hang, then until each has 3 successes after it."""
    tariff_id, code = await faulty.tariff_and_code()
    [user] = await faulty.users(1)
    await faulty.read_model_built()
    callers = [Buyer(faulty, user, code["code"], tariff_id, reader=r) for r in (False, True)]
    for caller in callers:
        caller.start()
    try:
        for caller in callers:
            await eventually(lambda c=caller: c.since(0) >= 3, timeout=10, message="before")
        hang(faulty.redis_processes() if dependency == "redis" else faulty.postgres_processes())
        down = [len(c.answers) for c in callers]
        for caller, index in zip(callers, down, strict=True):
            await eventually(
                lambda c=caller, i=index: len(c.answers) - i >= 3, timeout=15, message="answers"
            )
        resume()
        back = [len(c.answers) for c in callers]
        for caller, index in zip(callers, back, strict=True):
            await eventually(lambda c=caller, i=index: c.since(i) >= 3, timeout=15, message="after")
    finally:
        for caller in callers:
            await caller.stop()
    buyer, reader = callers
    return buyer, reader, down[0]


@pytest.mark.parametrize("dependency", ["redis", "postgres"])
async def test_a_hanging_dependency_costs_prompt_503s_naming_it_and_heals(faulty, dependency):
    """SIGSTOP, not a kill: connections are accepted and nothing is answered. Every answer
    still comes within the issue's 2 s: a success or 503 naming the dependency (a read may
    be served by the other one)."""
    buyer, reader, down = await hung_while_buying(faulty, dependency)
    for name, caller in (("use", buyer), ("read", reader)):
        statuses = Counter(a.status for a in caller.answers)
        print(f"{dependency} hung, {name}: {statuses}, slowest {slowest(caller.answers)}")
    for caller in (buyer, reader):
        wrong = [
            a for a in caller.answers if not (a.status == caller.ok or unavailable(a, dependency))
        ]
        assert wrong == []
        slow = [a for a in caller.answers if a.seconds >= PROMPT]
        assert slow == []
    assert buyer.since(down, 503) >= 1
    assert buyer.purchase_ids() <= set(await faulty.postgres_purchases([buyer.user_id]))


async def test_the_projector_killed_mid_stream_loses_and_doubles_nothing(faulty):
    tariff_id, code, users = await faulty.code_and_users_with_workers_stopped(600)
    async with httpx.AsyncClient(base_url=faulty.command, timeout=60) as client:
        applied = await client.post(
            f"{API}/promocodes/{code['id']}/apply_to_users",
            json={"user_ids": [str(u) for u in users], "tariff_id": tariff_id},
            headers=OPERATOR,
        )
    assert applied.status_code == 200, applied.text
    assert len(applied.json()["applied"]) == len(users)

    redis = faulty.redis()
    try:

        async def projector_group() -> dict:
            groups = await redis.xinfo_groups(LOYALTY_EVENTS)
            return next((g for g in groups if g["name"] == "projector"), {})

        faulty.platform.start_workers()
        # Killed while it holds entries it read but has not acknowledged.
        await eventually(
            projector_group, timeout=30, interval=0.005, until=lambda g: g.get("pending", 0) > 0
        )
        faulty.kill_workers()
        killed = await projector_group()
        assert killed["pending"] > 0

        faulty.platform.start_workers()
        await eventually(faulty.caught_up, timeout=60, message="the workers catching up")
    finally:
        await redis.aclose()

    postgres_uses, read_model_uses = await faulty.uses(code["id"])
    assert read_model_uses == postgres_uses == len(users)
    assert await faulty.read_model_purchases(users) == await faulty.postgres_purchases(users)


async def test_the_relay_killed_between_publishing_and_marking_doubles_nothing(faulty):
    tariff_id, code, users = await faulty.code_and_users_with_workers_stopped(5)
    async with httpx.AsyncClient(base_url=faulty.command, timeout=10) as client:
        for user in users:
            used = await client.post(
                f"{API}/use_promocode",
                json={"promocode": code["code"], "tariff_id": tariff_id},
                headers=bearer(user),
            )
            assert used.status_code == 201, used.text
    unpublished = await faulty.sql("SELECT event_id FROM outbox WHERE published_at IS NULL")
    event_ids = {str(r["event_id"]) for r in unpublished}
    assert len(event_ids) >= len(users)

    redis = faulty.redis()

    async def in_stream() -> list[str]:
        entries = await redis.xrange(LOYALTY_EVENTS)
        return [f["event_id"] for _id, f in entries if f["event_id"] in event_ids]

    # A lock that lets the relay take its rows (FOR UPDATE) and publish them, but holds its
    # UPDATE ... published_at: the relay is stuck between XADD and marking.
    lock = await asyncpg.connect(asyncpg_dsn(faulty.env["LOYALTY_DATABASE_URL"]))
    try:
        transaction = lock.transaction()
        await transaction.start()
        await lock.execute("LOCK TABLE outbox IN SHARE MODE")
        faulty.platform.start_workers()
        await eventually(in_stream, timeout=30, until=lambda found: set(found) == event_ids)
        faulty.kill_workers()
        await transaction.rollback()
    finally:
        await lock.close()

    async def still_unpublished() -> int:
        rows = await faulty.sql(
            "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL "
            "AND event_id = ANY(CAST(:ids AS uuid[]))",
            ids=list(event_ids),
        )
        return rows[0]["n"]

    # The killed relay's transaction is rolled back: its rows are still to publish.
    assert await still_unpublished() == len(event_ids)
    try:
        faulty.platform.start_workers()
        await eventually(faulty.caught_up, timeout=60, message="the workers catching up")
        published_twice = await in_stream()
    finally:
        await redis.aclose()

    assert sorted(published_twice) == sorted(list(event_ids) * 2)
    postgres_uses, read_model_uses = await faulty.uses(code["id"])
    assert read_model_uses == postgres_uses == len(users)
    assert await faulty.read_model_purchases(users) == await faulty.postgres_purchases(users)
