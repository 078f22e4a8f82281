"""Numbers for the promo-code engine (`make benchmark`; excluded from `make test`).

- the generator: 100,000 codes generated and stored (one transaction, one batch event);
- `use_promocode` latency over HTTP against a real command_api process with 200 buyers
  firing at once on the same hot codes.
"""

import asyncio
import statistics
import time
import uuid

import httpx
import pytest

from loyalty import handlers
from loyalty.catalog import generator
from loyalty.schemas import GenerateRequest
from tests.support.db import sql
from tests.support.factories import (
    OPERATOR_ID,
    bearer,
    create_loyalty_users,
    create_promocode,
    create_tariff,
)
from tests.support.platform import Platform

pytestmark = pytest.mark.benchmark

API = "/api/v1/loyalty"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def test_generator_100k_codes():
    started = time.perf_counter()
    codes = generator.generate_codes(generator.make_shape(), 100_000)
    generated = time.perf_counter() - started
    assert len(set(codes)) == 100_000

    started = time.perf_counter()
    batch = await handlers.generate_promocodes(
        GenerateRequest(count=100_000, discount_type="percent", value=20, length=10),
        actor_id=OPERATOR_ID,
    )
    stored = time.perf_counter() - started
    [row] = await sql("SELECT count(*) AS n FROM promocodes WHERE batch_id = :b", b=batch.batch_id)
    assert row["n"] == 100_000
    # Benchmark data only: 100,000 codes would slow every read-model rebuild in this slot.
    await sql("DELETE FROM promocodes WHERE batch_id = :b", b=batch.batch_id)
    await sql("DELETE FROM promocode_batches WHERE id = :b", b=batch.batch_id)
    print(
        f"\n[benchmark] generator: 100,000 codes generated in {generated:.2f} s; "
        f"generated + stored in Postgres (one transaction) in {stored:.2f} s"
    )


@pytest.fixture(scope="module")
def command_api():
    platform = Platform()
    url = platform.start_http("command_api")
    yield url
    platform.stop()


async def measure(
    client: httpx.AsyncClient, body: dict, headers: dict, statuses: dict, errors: list
) -> float | None:
    """One use; its latency, or None when the connection broke (counted, then retried)."""
    for _ in range(3):
        began = time.perf_counter()
        try:
            response = await client.post(f"{API}/use_promocode", json=body, headers=headers)
        except httpx.TransportError as exc:
            errors.append(type(exc).__name__)
            continue
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        return time.perf_counter() - began
    return None


async def all_at_once(
    url: str, headers: dict, bodies: list[dict], statuses: dict, errors: list
) -> tuple[list[float], float]:
    """Every buyer (a key of `headers`) sends `bodies` one after the other, all buyers
    starting at the same moment: the latencies and the seconds it all took."""
    latencies: list[float] = []
    waiting: list[uuid.UUID] = []
    all_waiting, start = asyncio.Event(), asyncio.Event()

    async def buyer(client: httpx.AsyncClient, user: uuid.UUID) -> None:
        waiting.append(user)
        if len(waiting) == len(headers):
            all_waiting.set()
        await start.wait()
        for body in bodies:
            latency = await measure(client, body, headers[user], statuses, errors)
            if latency is not None:
                latencies.append(latency)

    limits = httpx.Limits(max_connections=len(headers), max_keepalive_connections=len(headers))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        tasks = [asyncio.create_task(buyer(client, user)) for user in headers]
        await all_waiting.wait()  # every buyer is at the start line
        began = time.perf_counter()
        start.set()
        await asyncio.gather(*tasks)
        return latencies, time.perf_counter() - began


def summary(seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"p50 {percentile(ms, 50):.0f} ms, p95 {percentile(ms, 95):.0f} ms, "
        f"p99 {percentile(ms, 99):.0f} ms, mean {statistics.mean(ms):.0f} ms"
    )


async def test_use_promocode_latency_under_200_concurrent_buyers(command_api):
    buyers, codes_each = 200, 10
    tariff = await create_tariff()
    promos = [await create_promocode(max_uses=None, per_user_limit=1) for _ in range(codes_each)]
    users = await create_loyalty_users(buyers)
    headers = {u: bearer(u) for u in users}
    statuses: dict[int, int] = {}
    errors: list[str] = []

    async with httpx.AsyncClient(base_url=command_api, timeout=60) as client:
        alone = [
            await measure(
                client,
                {"promocode": promo.code, "tariff_id": tariff.id},
                bearer(u),
                statuses,
                errors,
            )
            for u in await create_loyalty_users(50)
            for promo in promos[:2]
        ]
    print(f"\n[benchmark] use_promocode, one buyer at a time (100 requests): {summary(alone)}")

    bodies = [{"promocode": promo.code, "tariff_id": tariff.id} for promo in promos]
    latencies, elapsed = await all_at_once(command_api, headers, bodies, statuses, errors)

    print(
        f"[benchmark] use_promocode, {buyers} concurrent buyers x {codes_each} hot codes "
        f"({len(latencies)} requests, one uvicorn process): {summary(latencies)}, "
        f"throughput {len(latencies) / elapsed:.0f} req/s, broken connections retried: "
        f"{len(errors)}"
    )
    assert statuses == {201: buyers * codes_each + len(alone)}


async def test_one_hot_code_200_buyers_10000_uses(command_api):
    """The promotion: 200 buyers at once on one code with 10,000 uses (50 each, no per-user
    limit); every use is counted exactly once, none above the limit."""
    buyers, uses_each = 200, 50
    tariff = await create_tariff()
    promo = await create_promocode(max_uses=buyers * uses_each, per_user_limit=None)
    users = await create_loyalty_users(buyers)
    headers = {u: bearer(u) for u in users}
    body = {"promocode": promo.code, "tariff_id": tariff.id}
    statuses: dict[int, int] = {}
    errors: list[str] = []
    latencies, elapsed = await all_at_once(
        command_api, headers, [body] * uses_each, statuses, errors
    )
    [row] = await sql("SELECT uses FROM promocodes WHERE id = :id", id=promo.id)
    print(
        f"\n[benchmark] one hot code, {buyers} concurrent buyers, {buyers * uses_each} uses: "
        f"{summary(latencies)}, {len(latencies) / elapsed:.0f} uses/s, "
        f"broken connections retried: {len(errors)}"
    )
    assert statuses == {201: buyers * uses_each} and row["uses"] == buyers * uses_each
