"""Read-your-write lag: a use committed by command_api until query_api shows it.

`make benchmark` (or `pytest -m benchmark -s tests/benchmarks`) starts the real processes and
prints p50/p99 over 200 samples. The path measured: command_api commits the purchase and its
outbox row -> NOTIFY wakes the relay -> XADD -> the projector's XREADGROUP -> Lua script ->
`GET /purchases` on query_api shows the purchase.
"""

import asyncio
import statistics
import time
import uuid

import asyncpg
import httpx
import pytest

from core.config import get_settings
from core.db import asyncpg_dsn
from tests.support.factories import bearer, unlimited_code_json
from tests.support.platform import Platform
from tests.support.polling import eventually_sync

pytestmark = pytest.mark.benchmark

API = "/api/v1/loyalty"
SAMPLES = 200
GIVE_UP_SECONDS = 10.0


@pytest.fixture(scope="module")
def platform():
    running = Platform().start()
    yield running
    running.stop()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, seconds: list[float]) -> None:
    ms = [s * 1000 for s in seconds]
    print(
        f"\n{name}: n={len(ms)} p50={percentile(ms, 50):.1f} ms p90={percentile(ms, 90):.1f} ms "
        f"p99={percentile(ms, 99):.1f} ms max={max(ms):.1f} ms mean={statistics.mean(ms):.1f} ms"
    )


def setup_buyer(platform: Platform) -> tuple[httpx.Client, httpx.Client, dict, str, int]:
    command = httpx.Client(base_url=platform.urls["command_api"], timeout=10)
    query = httpx.Client(base_url=platform.urls["query_api"], timeout=10)
    auth = httpx.Client(base_url=platform.urls["auth"], timeout=10)
    operator = bearer(uuid.uuid4(), "admin")
    registered = auth.post(
        "/api/v1/auth/user_registration",
        json={"email": f"bench-{uuid.uuid4().hex[:10]}@example.com", "password": "s3cret-pass!"},
    )
    assert registered.status_code == 201, registered.text
    user_id = uuid.UUID(registered.json()["id"])
    wait_for_loyalty_user(user_id)
    user = bearer(user_id)
    tariff = command.post(
        f"{API}/tariffs",
        json={"name": f"bench-{uuid.uuid4().hex[:8]}", "price": 39_900},
        headers=operator,
    ).json()
    created = command.post(f"{API}/promocodes", json=unlimited_code_json("BENCH"), headers=operator)
    assert created.status_code == 201, created.text
    return command, query, user, created.json()["code"], tariff["id"]


def wait_for_loyalty_user(user_id: uuid.UUID) -> None:
    """A fresh user reaches the loyalty side through user sync; uses before that are refused."""
    url = asyncpg_dsn(get_settings().loyalty_database_url)

    async def known() -> bool:
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetchval("SELECT 1 FROM users WHERE id = $1", user_id) == 1
        finally:
            await conn.close()

    eventually_sync(
        lambda: asyncio.run(known()),
        timeout=GIVE_UP_SECONDS,
        message="the user reaching the loyalty side",
    )


def use(command: httpx.Client, user: dict, code: str, tariff_id: int) -> str:
    response = command.post(
        f"{API}/use_promocode", json={"promocode": code, "tariff_id": tariff_id}, headers=user
    )
    assert response.status_code == 201, response.text
    return response.json()["purchase_id"]


def test_use_to_visible_in_query_api_lag(platform):
    command, query, user, code, tariff_id = setup_buyer(platform)
    use(command, user, code, tariff_id)  # warm-up: connections, scripts, user sync

    lags, round_trips, reads = [], [], []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        purchase_id = use(command, user, code, tariff_id)
        committed = time.perf_counter()
        while True:
            before_read = time.perf_counter()
            newest = query.get(f"{API}/purchases?limit=1", headers=user).json()
            reads.append(time.perf_counter() - before_read)
            if newest and newest[0]["purchase_id"] == purchase_id:
                break
            assert time.perf_counter() - committed < GIVE_UP_SECONDS, "use never became visible"
        visible = time.perf_counter()
        lags.append(visible - committed)
        round_trips.append(visible - started)

    report("use committed -> visible in GET /purchases", lags)
    report("use_promocode request -> visible", round_trips)
    report("GET /purchases (query_api) request", reads)

    active = []
    for _ in range(SAMPLES):
        before = time.perf_counter()
        response = query.get(f"{API}/get_active_promocodes", headers=user)
        active.append(time.perf_counter() - before)
        assert response.status_code == 200
    report("GET /get_active_promocodes request", active)
    assert len(lags) == SAMPLES
